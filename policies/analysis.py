"""Argo Rollouts analysis as the controller sees it: references, merged args, measured phases.

Shared by the rollout and analysis checks. Arg merging follows `utils/analysis.MergeArgs`
(a Rollout's args override the template's by name; args the template does not declare are
silently ignored by the controller, which this flags).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from policies.conditions import Phase, measure, measure_value
from policies.model import Bundle, Obj, PathKey, as_dict

# Argo Rollouts v1.10's metric providers (v1alpha1.MetricProvider), by who decides a
# measurement's phase: the metric's successCondition/failureCondition on the provider's
# value (EvaluateResult), or the provider itself (a Job's exit, Kayenta's score).
CONDITION_PROVIDERS = (
    "prometheus",
    "datadog",
    "newRelic",
    "wavefront",
    "cloudWatch",
    "graphite",
    "influxdb",
    "skywalking",
    "web",
)
SELF_JUDGING_PROVIDERS = ("job", "kayenta")
PROVIDERS = (*CONDITION_PROVIDERS, *SELF_JUDGING_PROVIDERS, "plugin")
# Fields without which a query provider has nothing to run (one of each tuple); the CRD
# schema already requires cloudWatch's, newRelic's, web's, job's and kayenta's own.
QUERY_FIELDS = {
    "prometheus": ("query",),
    "datadog": ("query", "queries"),
    "graphite": ("query",),
    "influxdb": ("query",),
    "skywalking": ("query",),
    "wavefront": ("query",),
}

ARG_PLACEHOLDER = re.compile(r"\{\{\s*args\.([A-Za-z0-9_.-]+)\s*\}\}")
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")
_UNIT = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def duration_seconds(value: Any) -> float | None:
    """Seconds of an Argo duration (`30`, `"30s"`, `"2m"`, `"1m30s"`), None when unparseable."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if not isinstance(value, str) or not value:
        return None
    if value.isdigit():
        return float(value)
    pos, total = 0, 0.0
    for match in _DURATION.finditer(value):
        if match.start() != pos:
            return None
        total += float(match.group(1)) * _UNIT[match.group(2)]
        pos = match.end()
    return total if pos == len(value) else None


def show_seconds(seconds: float) -> str:
    if seconds >= 60 and seconds % 60 == 0:
        return f"{int(seconds // 60)}m"
    return f"{seconds:g}s"


@dataclass
class AnalysisRef:
    """One place a Rollout asks for analysis (a step, the background, or blue-green promotion)."""

    rollout: Obj
    kind: str  # inline, background, prePromotion, postPromotion
    path: tuple[PathKey, ...]
    spec: dict[str, Any]
    step: int | None = None

    @property
    def label(self) -> str:
        if self.kind == "inline":
            return f"steps[{self.step}].analysis"
        return {"background": "canary.analysis"}.get(self.kind, f"blueGreen.{self.kind}Analysis")

    @property
    def templates(self) -> list[dict[str, Any]]:
        items = self.spec.get("templates")
        return [t for t in items if isinstance(t, dict)] if isinstance(items, list) else []

    @property
    def args(self) -> list[dict[str, Any]]:
        items = self.spec.get("args")
        return [a for a in items if isinstance(a, dict)] if isinstance(items, list) else []


def rollout_strategy(rollout: Obj) -> tuple[str | None, dict[str, Any]]:
    """("canary" or "blueGreen", its spec), or (None, {}) when the Rollout declares neither."""
    spec = as_dict(rollout.get("spec", "strategy"))
    for name in ("canary", "blueGreen"):
        if isinstance(spec.get(name), dict):
            return name, spec[name]
    return None, {}


def canary_steps(rollout: Obj) -> list[dict[str, Any]]:
    items = rollout.get("spec", "strategy", "canary", "steps")
    return [s if isinstance(s, dict) else {} for s in items] if isinstance(items, list) else []


def analysis_refs(rollout: Obj) -> list[AnalysisRef]:
    refs: list[AnalysisRef] = []
    kind, strat = rollout_strategy(rollout)
    base: tuple[PathKey, ...] = ("spec", "strategy", kind or "")
    if kind == "canary":
        if isinstance(strat.get("analysis"), dict):
            refs.append(AnalysisRef(rollout, "background", (*base, "analysis"), strat["analysis"]))
        for index, step in enumerate(canary_steps(rollout)):
            if isinstance(step.get("analysis"), dict):
                path = (*base, "steps", index, "analysis")
                refs.append(AnalysisRef(rollout, "inline", path, step["analysis"], step=index))
    elif kind == "blueGreen":
        for name in ("prePromotion", "postPromotion"):
            spec = strat.get(f"{name}Analysis")
            if isinstance(spec, dict):
                refs.append(AnalysisRef(rollout, name, (*base, f"{name}Analysis"), spec))
    return refs


def find_template(ref_template: dict[str, Any], rollout: Obj, bundle: Bundle) -> Obj | None:
    name = str(ref_template.get("templateName") or "")
    if ref_template.get("clusterScope"):
        return bundle.find("ClusterAnalysisTemplate", name)
    for obj in bundle.of_kind("AnalysisTemplate"):
        if obj.name == name and obj.namespace == rollout.namespace:
            return obj
    return None


def template_args(template: Obj) -> list[dict[str, Any]]:
    items = template.get("spec", "args")
    return [a for a in items if isinstance(a, dict)] if isinstance(items, list) else []


def merged_args(template: Obj, incoming: list[dict[str, Any]]) -> dict[str, str | None]:
    """name -> value after MergeArgs; valueFrom becomes a placeholder; None = unresolved."""
    merged: dict[str, str | None] = {}
    for arg in template_args(template):
        merged[str(arg.get("name"))] = _arg_value(arg)
    for arg in incoming:
        name = str(arg.get("name"))
        if name in merged:
            value = _arg_value(arg)
            if value is not None:
                merged[name] = value
    return merged


def _arg_value(arg: dict[str, Any]) -> str | None:
    if "value" in arg and arg["value"] is not None:
        return str(arg["value"])
    source = arg.get("valueFrom")
    if isinstance(source, dict):
        if "podTemplateHashValue" in source:
            return f"<{source['podTemplateHashValue'].lower()}-hash>"
        return "<valueFrom>"
    return None


def substitute(text: str, args: dict[str, str | None]) -> str:
    return ARG_PLACEHOLDER.sub(lambda m: str(args.get(m.group(1)) or m.group(0)), text)


def placeholders(node: Any) -> set[str]:
    """Every `{{args.x}}` name used anywhere in a template's metrics."""
    found: set[str] = set()
    if isinstance(node, str):
        found.update(ARG_PLACEHOLDER.findall(node))
    elif isinstance(node, dict):
        for value in node.values():
            found |= placeholders(value)
    elif isinstance(node, list):
        for value in node:
            found |= placeholders(value)
    return found


@dataclass
class Metric:
    """One metric of a template with args substituted, ready to probe."""

    template: Obj
    index: int
    data: dict[str, Any]
    args: dict[str, str | None] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return str(self.data.get("name") or f"metrics[{self.index}]")

    @property
    def path(self) -> tuple[PathKey, ...]:
        return ("spec", "metrics", self.index)

    def text(self, key: str) -> str | None:
        value = self.data.get(key)
        return substitute(str(value), self.args) if value not in (None, "") else None

    def integer(self, key: str) -> int | None:
        """An integer field (`count`, `failureLimit`) after arg substitution, None if not one."""
        text = self.text(key)
        try:
            return None if text is None else int(text)
        except ValueError:
            return None

    @property
    def provider(self) -> str | None:
        """The provider's name (`prometheus`, `web`, ...), None unless exactly one is set."""
        spec = self.data.get("provider")
        names = list(spec) if isinstance(spec, dict) else []
        return str(names[0]) if len(names) == 1 else None

    @property
    def provider_spec(self) -> dict[str, Any]:
        spec = self.data.get("provider")
        value = spec.get(self.provider) if isinstance(spec, dict) and self.provider else None
        return value if isinstance(value, dict) else {}

    @property
    def has_condition(self) -> bool:
        return bool(self.text("successCondition") or self.text("failureCondition"))

    @property
    def query(self) -> str | None:
        prometheus = as_dict(self.data.get("provider")).get("prometheus")
        if isinstance(prometheus, dict) and prometheus.get("query"):
            return substitute(str(prometheus["query"]), self.args)
        return None

    @property
    def scalar(self) -> bool:
        query = (self.query or "").strip()
        return query.startswith("scalar(")

    def phase(self, value: float | None) -> Phase:
        """The phase of one measurement whose query returned `value` (None = no series)."""
        result: Any
        if self.scalar:
            result = math.nan if value is None else value
        else:
            result = [] if value is None else [value]
        return measure(
            self.text("successCondition"), self.text("failureCondition"), result, scalar=self.scalar
        )

    def value_phase(self, value: Any) -> Phase:
        """The phase of a web measurement whose jsonPath gave this JSON value (None = null)."""
        return measure_value(self.text("successCondition"), self.text("failureCondition"), value)

    def ref_label(self) -> str:
        return f'{self.template.kind}/{self.template.name} metric "{self.name}"'


def metrics_of(template: Obj, args: dict[str, str | None] | None = None) -> list[Metric]:
    items = template.get("spec", "metrics")
    if not isinstance(items, list):
        return []
    resolved = args if args is not None else merged_args(template, [])
    return [Metric(template, i, m, resolved) for i, m in enumerate(items) if isinstance(m, dict)]


def templates_in_use(
    bundle: Bundle,
) -> Iterator[tuple[Obj, dict[str, str | None], AnalysisRef | None]]:
    """(template, merged args, ref) for every reference, then every unreferenced template."""
    used: set[int] = set()
    for rollout in bundle.of_kind("Rollout"):
        for ref in analysis_refs(rollout):
            for item in ref.templates:
                template = find_template(item, rollout, bundle)
                if template is not None:
                    used.add(id(template))
                    yield template, merged_args(template, ref.args), ref
    for template in bundle.of_kind("AnalysisTemplate", "ClusterAnalysisTemplate"):
        if id(template) not in used:
            yield template, merged_args(template, []), None
