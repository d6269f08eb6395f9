"""Workloads as objects: selectors that match their pods, the recommended labels, no default
namespace, no duplicate env vars, and the rolling update of the plain-Deployment fallback.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from policies.model import Bundle, Violation, as_dict, as_list
from policies.registry import REQUIRED, Params, check
from policies.workloads import PodTemplate, pod_templates, selector_labels, selects


@check("selector-matches-labels", "manifests")
def selector_matches_labels(bundle: Bundle, params: Params) -> Iterator[Violation]:
    for pod in pod_templates(bundle):
        owner = pod.owner
        if owner.kind in ("Pod", "CronJob", "Job"):
            continue
        selector = owner.get("spec", "selector")
        if selector is None and owner.kind == "Rollout" and owner.get("spec", "workloadRef"):
            continue
        if not isinstance(selector, dict) or not (
            selector.get("matchLabels") or selector.get("matchExpressions")
        ):
            yield owner.violation("has no spec.selector", path=("spec", "selector"))
        elif not selects(selector, pod.labels):
            yield owner.violation(
                f"spec.selector {selector_labels(owner) or selector} does not match the pod "
                "template labels",
                path=("spec", "selector"),
                fix=(
                    "use the same labels in spec.selector.matchLabels and "
                    "spec.template.metadata.labels"
                ),
            )


def _percent_or_int(value: Any) -> str:
    return str(value) if value is not None else "unset"


@check("fallback-rolling-update", "manifests", max_surge="25%", max_unavailable=0)
def fallback_rolling_update(bundle: Bundle, params: Params) -> Iterator[Violation]:
    want_surge, want_unavailable = params["max_surge"], params["max_unavailable"]
    for pod in pod_templates(bundle):
        deployment = pod.owner
        if deployment.kind != "Deployment":
            continue
        strategy = as_dict(deployment.get("spec", "strategy"))
        kind = strategy.get("type", "RollingUpdate")
        rolling = as_dict(strategy.get("rollingUpdate"))
        surge, unavailable = rolling.get("maxSurge"), rolling.get("maxUnavailable")
        if kind != "RollingUpdate":
            message = f"strategy is {kind}, which stops every pod before starting new ones"
        elif str(surge) != str(want_surge) or str(unavailable) != str(want_unavailable):
            message = (
                f"rollingUpdate is maxSurge {_percent_or_int(surge)} / maxUnavailable "
                f"{_percent_or_int(unavailable)}, not {want_surge} / {want_unavailable}"
            )
        else:
            continue
        yield deployment.violation(message, path=("spec", "strategy"), values_key="strategy")


@check("recommended-labels", "manifests", labels=REQUIRED, rendered_only=True)
def recommended_labels(bundle: Bundle, params: Params) -> Iterator[Violation]:
    if params["rendered_only"] and not bundle.values_files:
        return
    wanted = params["labels"]
    for obj in bundle.objects:
        missing = [label for label in wanted if not obj.labels.get(label)]
        if missing:
            yield obj.violation(
                f"lacks the labels {', '.join(missing)}", path=("metadata", "labels")
            )
    for pod in pod_templates(bundle):
        pod_wanted = [
            label
            for label in wanted
            if label in ("app.kubernetes.io/name", "app.kubernetes.io/instance")
        ]
        missing = [label for label in pod_wanted if not pod.labels.get(label)]
        if missing:
            yield pod.violation(f"pod template lacks the labels {', '.join(missing)}", field=())


@check("not-default-namespace", "manifests")
def not_default_namespace(bundle: Bundle, params: Params) -> Iterator[Violation]:
    for obj in bundle.objects:
        if obj.metadata.get("namespace") == "default":
            yield obj.violation(
                "is placed in the default namespace", path=("metadata", "namespace")
            )


@check("no-duplicate-env", "workloads")
def no_duplicate_env(pod: PodTemplate, bundle: Bundle, params: Params) -> Iterator[Violation]:
    """Kubernetes keeps the last duplicate silently; the first one looks effective but is not."""
    for container in pod.containers():
        seen: set[str] = set()
        for index, env in enumerate(as_list(container.data.get("env"))):
            name = env.get("name") if isinstance(env, dict) else None
            if isinstance(name, str) and name in seen:
                yield pod.violation(
                    f"env {name} is defined more than once",
                    container=container,
                    field=("env", index),
                    fix=f"keep one definition of {name}",
                )
            if isinstance(name, str):
                seen.add(name)
