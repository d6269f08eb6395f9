"""CEL building blocks the templates share: literals, `has()` chains, the matched kinds and
the pod template of each workload kind (the same table the static tier walks).

Kubernetes' CEL has no `cel.bind`, so a value a test needs twice is written twice; the
generated text is long but each piece comes from one Python function here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from policies.workloads import SERVING_KINDS, TEMPLATE_PATHS


def literal(value: Any) -> str:
    """A CEL literal for a YAML value of a rule's params (bool, int, float, str, list)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return text(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(literal(v) for v in value) + "]"
    raise TypeError(f"no CEL literal for {type(value).__name__} {value!r}")


def text(value: str) -> str:
    """A single-quoted CEL string literal."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def has(base: str, *fields: str) -> str:
    """`has(base.a) && has(base.a.b) ...`: true when every field on the path is set."""
    tests, path = [], base
    for name in fields:
        path = f"{path}.{name}"
        tests.append(f"has({path})")
    return " && ".join(tests)


def field(base: str, *fields: str) -> str:
    return ".".join((base, *fields))


def all_of(tests: Iterable[str]) -> str:
    parts = [f"({t})" for t in tests]
    return " && ".join(parts) if parts else "true"


@dataclass(frozen=True)
class Kind:
    """A kind a policy can match: its API group, version and resource (plural)."""

    kind: str
    group: str
    version: str
    resource: str

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version


KINDS: dict[str, Kind] = {
    k.kind: k
    for k in (
        Kind("Pod", "", "v1", "pods"),
        Kind("Deployment", "apps", "v1", "deployments"),
        Kind("StatefulSet", "apps", "v1", "statefulsets"),
        Kind("DaemonSet", "apps", "v1", "daemonsets"),
        Kind("ReplicaSet", "apps", "v1", "replicasets"),
        Kind("Job", "batch", "v1", "jobs"),
        Kind("CronJob", "batch", "v1", "cronjobs"),
        Kind("Rollout", "argoproj.io", "v1alpha1", "rollouts"),
        Kind("HorizontalPodAutoscaler", "autoscaling", "v2", "horizontalpodautoscalers"),
        Kind("ConfigMap", "", "v1", "configmaps"),
        Kind("ServiceAccount", "", "v1", "serviceaccounts"),
    )
}
# Every kind with a pod template, as the static tier's workload rules see them.
WORKLOAD_KINDS: tuple[str, ...] = tuple(TEMPLATE_PATHS)
assert set(WORKLOAD_KINDS) <= set(KINDS), "a workload kind of policies.workloads has no Kind"


def resource_rules(kinds: Iterable[str]) -> list[dict[str, Any]]:
    """matchConstraints.resourceRules: CREATE and UPDATE of the kinds, one rule per group."""
    by_group: dict[tuple[str, str], list[str]] = {}
    for name in kinds:
        kind = KINDS[name]
        by_group.setdefault((kind.group, kind.version), []).append(kind.resource)
    return [
        {
            "apiGroups": [group],
            "apiVersions": [version],
            "operations": ["CREATE", "UPDATE"],
            "resources": sorted(resources),
        }
        for (group, version), resources in sorted(by_group.items())
    ]


def _template_expression() -> str:
    """The pod template (metadata + spec) of the admitted object, by kind."""
    branches = []
    default = None
    for kind, path in TEMPLATE_PATHS.items():
        expr = "dyn(object)" + "".join(f".{p}" for p in path)
        if path == ("spec", "template"):
            default = expr
        else:
            branches.append((kind, expr))
    out = default or "dyn(object).spec.template"
    for kind, expr in reversed(branches):
        out = f"object.kind == {literal(kind)} ? {expr} : {out}"
    return out


# variables of every policy on pod templates (evaluated lazily, only when a test reads them)
WORKLOAD_VARIABLES: list[dict[str, str]] = [
    {"name": "template", "expression": _template_expression()},
    {"name": "spec", "expression": "variables.template.spec"},
    {
        "name": "appContainers",
        "expression": "has(variables.spec.containers) ? variables.spec.containers : []",
    },
    {
        "name": "containers",
        "expression": "(has(variables.spec.initContainers) ? variables.spec.initContainers : [])"
        " + variables.appContainers",
    },
    {"name": "serving", "expression": f"object.kind in {literal(sorted(SERVING_KINDS))}"},
]
SPEC = "variables.spec"

# A Rollout with spec.workloadRef has no template of its own: the Deployment it names is
# judged when that Deployment is admitted (as the static tier judges it through the Rollout).
HAS_TEMPLATE = {
    "name": "rollout-has-template",
    "expression": "object.kind != 'Rollout' || has(object.spec.template)",
}
# An UPDATE that leaves the spec alone (a controller's label, annotation or finalizer change
# to an object admitted before the policy existed) is not judged again.
SPEC_CHANGED = {
    "name": "spec-changed",
    "expression": "request.operation != 'UPDATE' || !has(object.spec) || !has(oldObject.spec)"
    " || object.spec != oldObject.spec",
}
# `Kind/namespace/name`, as the static tier's findings name an object.
SUBJECT = (
    "object.kind + '/' + request.namespace + '/' + "
    "(has(object.metadata.name) ? object.metadata.name : '')"
)

# The pod template's labels (a map; empty when unset).
POD_LABELS = (
    "(has(variables.template.metadata) && has(variables.template.metadata.labels) ? "
    "variables.template.metadata.labels : {})"
)


def selects(selector: str, labels: str = POD_LABELS) -> str:
    """CEL of policies.workloads.selects: a LabelSelector (matchLabels + matchExpressions)
    matches `labels`; an absent selector matches nothing, an empty one everything."""
    values = "(has(e.values) ? e.values : [])"
    present = f"e.key in {labels}"
    holds = (
        f"e.operator == 'In' ? ({present} && {labels}[e.key] in {values}) : "
        f"e.operator == 'NotIn' ? !({present} && {labels}[e.key] in {values}) : "
        f"e.operator == 'Exists' ? {present} : e.operator == 'DoesNotExist' ? !({present}) : false"
    )
    return (
        f"(has({selector}) && (!has({selector}.matchLabels) || {selector}.matchLabels.all(k, "
        f"k in {labels} && {labels}[k] == {selector}.matchLabels[k])) && "
        f"(!has({selector}.matchExpressions) || {selector}.matchExpressions.all(e, {holds})))"
    )
