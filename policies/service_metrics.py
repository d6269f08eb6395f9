"""The Prometheus series the service exports, read from its source code.

The analysis templates must query names the service really exports. Instead of a second
hand-kept list, this reads the `prometheus_client` metric definitions (Counter, Gauge,
Histogram, Summary, Info, Enum) from the service's Python files with `ast` and expands
them into exposed series names the way prometheus_client does (`_total`, `_bucket`, ...).
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

from policies.errors import InputError
from policies.model import ServiceMetric

METRIC_TYPES = {"Counter", "Gauge", "Histogram", "Summary", "Info", "Enum"}


def _const_str(node: ast.AST | None) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def _labels(node: ast.AST | None) -> frozenset[str]:
    if isinstance(node, (ast.List, ast.Tuple)):
        return frozenset(v for v in (_const_str(e) for e in node.elts) if v)
    return frozenset()


def _type_name(func: ast.AST) -> str | None:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


def _series(kind: str, name: str, labels: frozenset[str], source: str) -> list[ServiceMetric]:
    def m(series: str, extra: Iterable[str] = ()) -> ServiceMetric:
        return ServiceMetric(series, labels | frozenset(extra), source)

    if kind == "Counter":
        base = name.removesuffix("_total")
        return [m(base + "_total"), m(base + "_created")]
    if kind == "Histogram":
        return [
            m(name + "_bucket", ["le"]),
            m(name + "_sum"),
            m(name + "_count"),
            m(name + "_created"),
        ]
    if kind == "Summary":
        return [m(name, ["quantile"]), m(name + "_sum"), m(name + "_count"), m(name + "_created")]
    if kind == "Info":
        return [m(name + "_info")]
    if kind == "Enum":
        return [m(name, [name])]
    return [m(name)]


@lru_cache(maxsize=256)
def metrics_in_source(text: str, source: str) -> tuple[ServiceMetric, ...]:
    """Series defined by prometheus_client calls with literal names in one Python file
    (memoised: the same source is read again for every repository a session builds)."""
    try:
        tree = ast.parse(text, filename=source)
    except SyntaxError as err:
        raise InputError(f"{source}:{err.lineno}: cannot parse Python: {err.msg}") from None
    found: list[ServiceMetric] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        kind = _type_name(node.func)
        if kind not in METRIC_TYPES:
            continue
        kwargs = {k.arg: k.value for k in node.keywords if k.arg}
        name = _const_str(node.args[0] if node.args else kwargs.get("name"))
        if not name:
            continue
        prefix = [
            p
            for p in (_const_str(kwargs.get("namespace")), _const_str(kwargs.get("subsystem")))
            if p
        ]
        full = "_".join([*prefix, name])
        label_node = node.args[2] if len(node.args) > 2 else kwargs.get("labelnames")
        where = f"{source}:{node.lineno}"
        found.extend(_series(kind, full, _labels(label_node), where))
    return tuple(found)


def service_metrics(package_dir: Path, root: Path | None = None) -> dict[str, ServiceMetric]:
    """Every exported series of the Python package under `package_dir`, by series name."""
    out: dict[str, ServiceMetric] = {}
    for path in sorted(package_dir.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        if "prometheus_client" not in text:
            continue
        shown = (
            path.relative_to(root).as_posix() if root and path.is_relative_to(root) else str(path)
        )
        for metric in metrics_in_source(text, shown):
            out.setdefault(metric.name, metric)
    return out
