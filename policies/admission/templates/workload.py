"""Workloads as objects (policies/checks/workload.py) in CEL."""

from __future__ import annotations

from policies.admission.cel import WORKLOAD_KINDS, has, literal
from policies.admission.template import Template, Validation, each_container, template
from policies.registry import Params


@template("no-duplicate-env")
def no_duplicate_env(params: Params) -> Template:
    passes = "!has(c.env) || c.env.all(e, c.env.filter(x, x.name == e.name).size() == 1)"
    return Template(
        WORKLOAD_KINDS, (each_container(passes, "an environment variable is defined twice"),)
    )


@template("fallback-rolling-update")
def fallback_rolling_update(params: Params) -> Template:
    strategy = "object.spec.strategy"
    kind = f"({has('object', 'spec', 'strategy', 'type')} ? {strategy}.type : 'RollingUpdate')"
    rolling = f"{strategy}.rollingUpdate"
    surge, unavailable = str(params["max_surge"]), str(params["max_unavailable"])
    passes = (
        f"{kind} == 'RollingUpdate' && "
        f"{has('object', 'spec', 'strategy', 'rollingUpdate', 'maxSurge')} && "
        f"string({rolling}.maxSurge) == {literal(surge)} && "
        f"{has('object', 'spec', 'strategy', 'rollingUpdate', 'maxUnavailable')} && "
        f"string({rolling}.maxUnavailable) == {literal(unavailable)}"
    )
    problem = (
        f"the strategy is not RollingUpdate with maxSurge {surge} / maxUnavailable {unavailable}"
    )
    return Template(("Deployment",), (Validation(passes, problem),), pod_template=False)
