"""Just enough PromQL to know which series a query reads.

The analysis rules need the metric names (and label names) a query selects, to compare
them with what the service exports. A tokenizer is enough: identifiers followed by `(`
are functions or aggregations, identifiers in `by (...)`/`without (...)`/`on (...)` are
label lists, identifiers inside `{...}` are label matchers, the rest are metric names.
Argo `{{args.x}}` placeholders are substituted (or blanked) before parsing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from policies.lexing import scan

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)
  | (?P<duration>\[[^\]]*\]|(?:\d+(?:ms|[smhdwy]))+(?![A-Za-z0-9_]))
  | (?P<number>(?:0x[0-9a-fA-F]+|\d+(?:\.\d*)?(?:[eE][+-]?\d+)?|\.\d+)(?![A-Za-z_]))
  | (?P<ident>[A-Za-z_:][A-Za-z0-9_:]*)
  | (?P<op>=~|!~|!=|==|<=|>=|[-+*/%^<>=(){},@])
    """,
    re.VERBOSE,
)
KEYWORDS = {
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "offset",
    "bool",
    "and",
    "or",
    "unless",
    "atan2",
    "inf",
    "nan",
    "start",
    "end",
}
AGGREGATIONS = {
    "sum",
    "min",
    "max",
    "avg",
    "group",
    "stddev",
    "stdvar",
    "count",
    "count_values",
    "bottomk",
    "topk",
    "quantile",
    "limitk",
    "limit_ratio",
}
LABEL_LIST_KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right"}
_ARG = re.compile(r"\{\{\s*args\.([A-Za-z0-9_.-]+)\s*\}\}")


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


def _unquote(text: str) -> str:
    return text[1:-1]


def parse(query: str) -> QueryInfo:
    """The selectors, functions and label lists of a query (args already substituted)."""
    tokens = [(m.lastgroup or "", m.group()) for m in scan(_TOKEN, query, PromQLError)]
    info = QueryInfo()
    i = 0
    while i < len(tokens):
        kind, value = tokens[i]
        nxt = tokens[i + 1] if i + 1 < len(tokens) else ("", "")
        if kind == "number":
            info.numbers.append(float(value) if not value.startswith("0x") else int(value, 16))
        if kind == "ident" and value in LABEL_LIST_KEYWORDS and nxt[1] == "(":
            i += 2
            while i < len(tokens) and tokens[i][1] != ")":
                if tokens[i][0] == "ident":
                    info.label_lists.add(tokens[i][1])
                i += 1
        elif kind == "ident" and value.lower() in KEYWORDS:
            pass
        elif kind == "ident" and (
            nxt[1] == "(" or (value in AGGREGATIONS and nxt[1] in {"by", "without"})
        ):
            info.functions.append(value)
        elif kind == "ident":
            selector = Selector(metric=value)
            if nxt[1] == "{":
                i = _matchers(tokens, i + 2, selector)
            info.selectors.append(selector)
        elif value == "{":
            selector = Selector(metric=None)
            i = _matchers(tokens, i + 1, selector)
            name = selector.matchers.pop("__name__", None)
            if name and name[0] == "=":
                selector.metric = name[1]
            info.selectors.append(selector)
        i += 1
    return info


def _matchers(tokens: list[tuple[str, str]], i: int, selector: Selector) -> int:
    """Read `label op "value", ...}` starting at tokens[i]; returns the index of `}`."""
    while i < len(tokens) and tokens[i][1] != "}":
        if tokens[i][0] == "ident" and i + 2 < len(tokens) and tokens[i + 2][0] == "string":
            selector.matchers[tokens[i][1]] = (tokens[i + 1][1], _unquote(tokens[i + 2][1]))
            i += 3
            continue
        i += 1
    return i


def exposed_bases(metric: str) -> list[str]:
    """Names a series could have been exported under (`x_bucket` comes from histogram `x`)."""
    names = [metric]
    for suffix in ("_bucket", "_sum", "_count", "_total", "_created", "_info"):
        if metric.endswith(suffix):
            names.append(metric[: -len(suffix)])
    return names
