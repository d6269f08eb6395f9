"""HorizontalPodAutoscalers: aimed at what is rendered, sane bounds, sole owner of replicas."""

from __future__ import annotations

from collections.abc import Iterator

from policies.model import Bundle, Violation
from policies.registry import Params, check
from policies.workloads import TEMPLATE_PATHS, hpas_for, pod_templates, replicas_of, scale_target

SCALABLE = ("Deployment", "StatefulSet", "ReplicaSet", "Rollout")


@check("hpa-target", "manifests")
def hpa_target_rendered(bundle: Bundle, params: Params) -> Iterator[Violation]:
    for hpa in bundle.of_kind("HorizontalPodAutoscaler"):
        api_version, kind, name = scale_target(hpa)
        target = bundle.find(kind, name) if kind in TEMPLATE_PATHS else None
        if target is None:
            rendered = sorted({f"{o.kind}/{o.name}" for o in bundle.of_kind(*SCALABLE)})
            yield hpa.violation(
                f"scaleTargetRef {kind or '?'}/{name or '?'} is not rendered"
                + (f" (rendered: {', '.join(rendered)})" if rendered else ""),
                path=("spec", "scaleTargetRef"),
                fix=(
                    "set scaleTargetRef kind/name to the workload the chart renders (Rollout when "
                    "rollouts.enabled)"
                ),
            )
        elif api_version != target.api_version:
            yield hpa.violation(
                f"scaleTargetRef apiVersion {api_version!r} does not match {target.kind} "
                f"{target.api_version!r}",
                path=("spec", "scaleTargetRef", "apiVersion"),
                fix=f"set scaleTargetRef.apiVersion: {target.api_version}",
            )


@check("hpa-bounds", "manifests", min=2)
def hpa_bounds(bundle: Bundle, params: Params) -> Iterator[Violation]:
    for hpa in bundle.of_kind("HorizontalPodAutoscaler"):
        low = hpa.get("spec", "minReplicas", default=1)
        high = hpa.get("spec", "maxReplicas")
        if isinstance(low, int) and low < params["min"]:
            yield hpa.violation(
                f"minReplicas is {low}, below {params['min']}",
                path=("spec", "minReplicas"),
                values_key="autoscaling.minReplicas",
            )
        if not isinstance(high, int) or (isinstance(low, int) and high <= low):
            yield hpa.violation(
                f"maxReplicas ({high}) is not above minReplicas ({low}), so it never scales",
                path=("spec", "maxReplicas"),
                values_key="autoscaling.maxReplicas",
            )


@check("no-static-replicas", "manifests")
def no_static_replicas(bundle: Bundle, params: Params) -> Iterator[Violation]:
    """With `replicas` in git, every sync resets what the HPA decided (Argo CD best practice)."""
    for pod in pod_templates(bundle):
        hpas = hpas_for(pod.owner, bundle)
        replicas = replicas_of(pod.owner)
        if hpas and replicas is not None:
            yield pod.owner.violation(
                f"sets spec.replicas: {replicas} although {hpas[0].ref} manages its scale",
                path=("spec", "replicas"),
                values_key="replicaCount",
            )
