"""Argo Rollouts' strategy windows (policies/checks/rollouts.py) in CEL."""

from __future__ import annotations

from policies.admission.cel import field, has, literal
from policies.admission.template import Template, Validation, template
from policies.registry import Params


def _blue_green() -> str:
    """CEL: the Rollout's strategy is blueGreen (canary wins when both are declared, as in
    policies.analysis.rollout_strategy)."""
    strategy = "object.spec.strategy"
    return f"has({strategy}) && !has({strategy}.canary) && has({strategy}.blueGreen)"


@template("blue-green-window")
def blue_green_window(params: Params) -> Template:
    want = params["scale_down_delay_seconds"]
    delay = field("object.spec.strategy.blueGreen", "scaleDownDelaySeconds")
    passes = f"!({_blue_green()}) || (has({delay}) ? {delay} : 30) >= {literal(want)}"
    problem = (
        f"scaleDownDelaySeconds is below {want}: the old version is gone before the rollback "
        "window ends"
    )
    return Template(("Rollout",), (Validation(passes, problem),), pod_template=False)


@template("progress-deadline")
def progress_deadline(params: Params) -> Template:
    spec = "object.spec"
    deadline = f"(has({spec}.progressDeadlineSeconds) ? {spec}.progressDeadlineSeconds : 600)"
    ready = f"(has({spec}.minReadySeconds) ? {spec}.minReadySeconds : 0)"
    canary = "object.spec.strategy.canary"
    is_canary = has("object", "spec", "strategy", "canary")

    def zero(name: str) -> str:
        return f"string(has({canary}.{name}) ? {canary}.{name} : '25%') in ['0', '0%']"

    validations = [
        Validation(f"{deadline} > {ready}", "progressDeadlineSeconds is not above minReadySeconds"),
        Validation(
            f"!({is_canary}) || !({zero('maxSurge')} && {zero('maxUnavailable')})",
            "maxSurge and maxUnavailable are both 0",
        ),
    ]
    if params["require_abort"]:
        validations.append(
            Validation(
                f"has({spec}.progressDeadlineAbort) && {spec}.progressDeadlineAbort == true",
                "progressDeadlineAbort is not true: a stuck canary keeps its traffic share forever",
            )
        )
    return Template(("Rollout",), tuple(validations), pod_template=False)
