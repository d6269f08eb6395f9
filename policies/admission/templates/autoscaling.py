"""HorizontalPodAutoscaler bounds (policies/checks/autoscaling.py) in CEL."""

from __future__ import annotations

from policies.admission.cel import literal
from policies.admission.template import Template, Validation, template
from policies.registry import Params


@template("hpa-bounds")
def hpa_bounds(params: Params) -> Template:
    low = "(has(object.spec.minReplicas) ? object.spec.minReplicas : 1)"
    minimum = literal(params["min"])
    return Template(
        ("HorizontalPodAutoscaler",),
        pod_template=False,
        validations=(
            Validation(f"{low} >= {minimum}", f"minReplicas is below {params['min']}"),
            Validation(
                f"has(object.spec.maxReplicas) && object.spec.maxReplicas > {low}",
                "maxReplicas is not above minReplicas, so it never scales",
            ),
        ),
    )
