"""Spreading and anti-affinity (policies/checks/availability.py) in CEL."""

from __future__ import annotations

from policies.admission.cel import SPEC, WORKLOAD_KINDS, has, literal, selects
from policies.admission.template import Template, serving_pod, template
from policies.registry import Params


@template("zone-spread")
def zone_spread(params: Params) -> Template:
    key, mode = literal(params["topology_key"]), literal(params["when_unsatisfiable"])
    constraints = f"(has({SPEC}.topologySpreadConstraints) ? {SPEC}.topologySpreadConstraints : [])"
    spreads = f"c.topologyKey == {key} && {selects('c.labelSelector')}"
    return Template(
        WORKLOAD_KINDS,
        (
            serving_pod(
                f"{constraints}.exists(c, {spreads})",
                f"no topologySpreadConstraint on {params['topology_key']} selects its pods",
            ),
            serving_pod(
                f"!{constraints}.exists(c, {spreads}) || {constraints}.exists(c, {spreads} && "
                f"has(c.whenUnsatisfiable) && c.whenUnsatisfiable == {mode})",
                f"the {params['topology_key']} spread constraint is not whenUnsatisfiable: "
                f"{params['when_unsatisfiable']}",
            ),
        ),
    )


@template("pod-anti-affinity")
def pod_anti_affinity(params: Params) -> Template:
    """The required terms and the preferred ones' podAffinityTerm: one must select the pod's
    own labels on one of the topology keys."""
    anti = f"{SPEC}.affinity.podAntiAffinity"
    required = f"{anti}.requiredDuringSchedulingIgnoredDuringExecution"
    preferred = f"{anti}.preferredDuringSchedulingIgnoredDuringExecution"
    keys = literal(list(params["topology_keys"]))
    term = f"has(t.topologyKey) && t.topologyKey in {keys} && {selects('t.labelSelector')}"
    has_anti = has(SPEC, "affinity", "podAntiAffinity")
    passes = (
        f"{has_anti} && ((has({required}) && {required}.exists(t, {term})) || "
        f"(has({preferred}) && {preferred}.exists(w, has(w.podAffinityTerm) && "
        f"[w.podAffinityTerm].exists(t, {term}))))"
    )
    shown = " or ".join(sorted(params["topology_keys"]))
    return Template(
        WORKLOAD_KINDS,
        (serving_pod(passes, f"no podAntiAffinity term selects its own pods on {shown}"),),
    )
