"""Replicas, disruption budgets and spreading: surviving a node or a zone going away."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from policies.model import Bundle, Obj, Violation, as_dict, as_list
from policies.registry import Params, check
from policies.workloads import PodTemplate, fewest_pods, pod_templates, selects


def serving(bundle: Bundle) -> list[PodTemplate]:
    return [p for p in pod_templates(bundle) if p.serving]


def pdbs_for(pod: PodTemplate, bundle: Bundle) -> list[Obj]:
    return [
        pdb
        for pdb in bundle.of_kind("PodDisruptionBudget")
        if pdb.namespace == pod.owner.namespace and selects(pdb.get("spec", "selector"), pod.labels)
    ]


@check("min-replicas", "manifests", min=2)
def min_replicas(bundle: Bundle, params: Params) -> Iterator[Violation]:
    for pod in serving(bundle):
        count, source = fewest_pods(pod.owner, bundle)
        if count < params["min"]:
            yield pod.owner.violation(
                f"runs as few as {count} pod(s) ({source}), below {params['min']}",
                path=("spec", "replicas"),
                values_key="autoscaling.minReplicas",
            )


@check("pdb-covers-workload", "manifests")
def pdb_covers_workload(bundle: Bundle, params: Params) -> Iterator[Violation]:
    pods = serving(bundle)
    for pod in pods:
        if not pdbs_for(pod, bundle):
            yield pod.owner.violation(
                "no PodDisruptionBudget selects its pods", values_key="podDisruptionBudget"
            )
    for pdb in bundle.of_kind("PodDisruptionBudget"):
        if pods and not any(pdb in pdbs_for(p, bundle) for p in pods):
            yield pdb.violation(
                "selects no rendered workload's pods",
                path=("spec", "selector"),
                fix="make spec.selector match the workload's pod template labels",
            )


def _percent(value: Any) -> int | None:
    if isinstance(value, str) and value.endswith("%"):
        try:
            return int(value[:-1])
        except ValueError:
            return None
    return None


@check("pdb-allows-eviction", "manifests")
def pdb_allows_eviction(bundle: Bundle, params: Params) -> Iterator[Violation]:
    """A PDB that allows no eviction blocks node drains and cluster upgrades forever."""
    for pdb in bundle.of_kind("PodDisruptionBudget"):
        spec = pdb.spec
        max_unavailable = spec.get("maxUnavailable")
        if max_unavailable in (0, "0", "0%"):
            yield pdb.violation(
                "maxUnavailable is 0: no pod can ever be evicted", path=("spec", "maxUnavailable")
            )
            continue
        min_available = spec.get("minAvailable")
        if _percent(min_available) == 100:
            yield pdb.violation(
                "minAvailable is 100%: no pod can ever be evicted", path=("spec", "minAvailable")
            )
            continue
        if not isinstance(min_available, int):
            continue
        for pod in serving(bundle):
            if pdb not in pdbs_for(pod, bundle):
                continue
            count, source = fewest_pods(pod.owner, bundle)
            if min_available >= count:
                yield pdb.violation(
                    f"minAvailable {min_available} is not below {pod.owner.ref}'s {count} pod(s) "
                    f"({source})",
                    path=("spec", "minAvailable"),
                    values_key="podDisruptionBudget.minAvailable",
                    fix=f"set minAvailable below {count} (or use maxUnavailable: 1)",
                )


def _constraints(pod: PodTemplate) -> list[dict[str, Any]]:
    items = pod.spec.get("topologySpreadConstraints")
    return [c for c in items if isinstance(c, dict)] if isinstance(items, list) else []


@check(
    "zone-spread",
    "manifests",
    topology_key="topology.kubernetes.io/zone",
    when_unsatisfiable="DoNotSchedule",
)
def zone_spread(bundle: Bundle, params: Params) -> Iterator[Violation]:
    key, mode = params["topology_key"], params["when_unsatisfiable"]
    for pod in serving(bundle):
        spread = [
            c
            for c in _constraints(pod)
            if c.get("topologyKey") == key and selects(c.get("labelSelector"), pod.labels)
        ]
        if not spread:
            yield pod.violation(
                f"no topologySpreadConstraint on {key} selects its pods",
                field=("topologySpreadConstraints",),
                values_key="topologySpread|topologySpreadConstraints",
            )
        elif not any(c.get("whenUnsatisfiable") == mode for c in spread):
            yield pod.violation(
                f"the {key} spread constraint is not whenUnsatisfiable: {mode}",
                field=("topologySpreadConstraints",),
                values_key="topologySpread|topologySpreadConstraints",
            )


def _anti_affinity_terms(pod: PodTemplate) -> list[dict[str, Any]]:
    anti = as_dict(as_dict(pod.spec.get("affinity")).get("podAntiAffinity"))
    terms = list(as_list(anti.get("requiredDuringSchedulingIgnoredDuringExecution")))
    for weighted in as_list(anti.get("preferredDuringSchedulingIgnoredDuringExecution")):
        if isinstance(weighted, dict):
            terms.append(as_dict(weighted.get("podAffinityTerm")))
    return [t for t in terms if isinstance(t, dict)]


@check(
    "pod-anti-affinity",
    "manifests",
    topology_keys=["kubernetes.io/hostname", "topology.kubernetes.io/zone"],
)
def pod_anti_affinity(bundle: Bundle, params: Params) -> Iterator[Violation]:
    keys = set(params["topology_keys"])
    for pod in serving(bundle):
        terms = _anti_affinity_terms(pod)
        if not any(
            str(t.get("topologyKey")) in keys and selects(t.get("labelSelector"), pod.labels)
            for t in terms
        ):
            problem = (
                "no podAntiAffinity term"
                if not terms
                else "no podAntiAffinity term selects its own pods"
            )
            yield pod.violation(
                f"{problem} on {' or '.join(sorted(keys))}",
                field=("affinity",),
                values_key="podAntiAffinity|affinity",
            )


@check("topology-spread-valid", "manifests")
def topology_spread_valid(bundle: Bundle, params: Params) -> Iterator[Violation]:
    for pod in pod_templates(bundle):
        for index, constraint in enumerate(_constraints(pod)):
            problems = []
            skew = constraint.get("maxSkew")
            if not isinstance(skew, int) or skew < 1:
                problems.append(f"maxSkew {skew!r} is not a positive integer")
            if not constraint.get("topologyKey"):
                problems.append("topologyKey is empty")
            mode = constraint.get("whenUnsatisfiable")
            if mode not in ("DoNotSchedule", "ScheduleAnyway"):
                problems.append(
                    f"whenUnsatisfiable {mode!r} is not DoNotSchedule or ScheduleAnyway"
                )
            if "minDomains" in constraint and mode != "DoNotSchedule":
                problems.append("minDomains needs whenUnsatisfiable: DoNotSchedule")
            if not selects(constraint.get("labelSelector"), pod.labels):
                problems.append(
                    "labelSelector does not select the pod's own labels, so it spreads nothing"
                )
            for problem in problems:
                yield pod.violation(
                    f"topologySpreadConstraints[{index}]: {problem}",
                    field=("topologySpreadConstraints", index),
                    values_key="topologySpread|topologySpreadConstraints",
                )
