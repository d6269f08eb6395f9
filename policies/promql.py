"""Which series, functions, labels and numbers a PromQL query uses.

The analysis rules need the metric names (and label names) a query selects, to compare
them with what the service exports, and the numbers it holds (a quantile). The query is
parsed by `promql-parser` (PyPI: Prometheus' grammar in Rust) and its AST walked, so what
fails to parse here fails in Prometheus too. Argo `{{args.x}}` placeholders are
substituted (or blanked) before parsing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import promql_parser

_ARG = re.compile(r"\{\{\s*args\.([A-Za-z0-9_.-]+)\s*\}\}")
_RANGE_ARG = re.compile(r"\[\s*\{\{\s*args\.[A-Za-z0-9_.-]+\s*\}\}")


class PromQLError(ValueError):
    pass


@dataclass
class Selector:
    metric: str | None
    matchers: dict[str, tuple[str, str]] = field(default_factory=dict)  # label -> (op, value)


@dataclass
class QueryInfo:
    selectors: list[Selector] = field(default_factory=list)
    functions: list[str] = field(default_factory=list)
    label_lists: set[str] = field(default_factory=set)
    numbers: list[float] = field(default_factory=list)
    ranges: list[float] = field(default_factory=list)  # range selectors, in seconds

    @property
    def metrics(self) -> set[str]:
        return {s.metric for s in self.selectors if s.metric}


def substitute_args(query: str, args: dict[str, str] | None = None) -> str:
    """Replace `{{args.name}}` with its value, or with `__arg_name__` when unknown."""

    def repl(match: re.Match[str]) -> str:
        name = match.group(1)
        if args and name in args:
            return str(args[name])
        return "__arg_" + re.sub(r"\W", "_", name) + "__"

    return _ARG.sub(repl, query)


_MATCH_OPS = {"Equal": "=", "NotEqual": "!=", "Re": "=~", "NotRe": "!~"}


def _op(match_op: object) -> str:
    return _MATCH_OPS[str(match_op).rsplit(".", 1)[-1]]


def parse(query: str) -> QueryInfo:
    """The selectors, functions, label lists and numbers of a query (args substituted).

    The query is parsed by promql-parser (the Prometheus grammar, ported to Rust), so a
    syntax error here is one Prometheus would report; the AST is then walked once.
    """
    # An arg without a value (valueFrom: the pod template hash) stays a placeholder; make it
    # parse: a duration where a range is expected, else an identifier that is also a regex.
    query = _RANGE_ARG.sub("[1m", query)
    try:
        tree = promql_parser.parse(substitute_args(query))
    except ValueError as err:
        raise PromQLError(str(err)) from err
    info = QueryInfo()

    def visit(node: object) -> None:
        if isinstance(node, promql_parser.VectorSelector):
            selector = Selector(metric=node.name or None)
            for matcher in node.matchers.matchers:
                selector.matchers[matcher.name] = (_op(matcher.op), matcher.value)
            name = selector.matchers.pop("__name__", None)
            if selector.metric is None and name and name[0] == "=":
                selector.metric = name[1]
            info.selectors.append(selector)
        elif isinstance(node, promql_parser.MatrixSelector):
            info.ranges.append(node.range.total_seconds())
        elif isinstance(node, promql_parser.Call):
            info.functions.append(node.func.name)
        elif isinstance(node, promql_parser.AggregateExpr):
            info.functions.append(str(node.op))
            if node.modifier is not None:
                info.label_lists.update(node.modifier.labels)
        elif isinstance(node, promql_parser.BinaryExpr) and node.modifier is not None:
            if node.modifier.matching is not None:
                info.label_lists.update(node.modifier.matching.labels)
            info.label_lists.update(node.modifier.group_labels or ())
        elif isinstance(node, promql_parser.NumberLiteral):
            info.numbers.append(node.val)

    promql_parser.walk(tree, visit)
    return info


def exposed_bases(metric: str) -> list[str]:
    """Names a series could have been exported under (`x_bucket` comes from histogram `x`)."""
    names = [metric]
    for suffix in ("_bucket", "_sum", "_count", "_total", "_created", "_info"):
        if metric.endswith(suffix):
            names.append(metric[: -len(suffix)])
    return names
