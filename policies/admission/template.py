"""What a CEL template is, and the registry the templates fill (templates/<group>.py).

A template (one per check, kube-linter style: the check's params fill it in) says which
kinds the check's policy matches and which CEL tests admit an object; each test mirrors the
check's Python in policies/checks/ branch by branch (the e2e tier proves them equal on every
case: suites/e2e/test_admission.py). A check without a template cannot give a rule an
admission form; `WITHOUT_TEMPLATE` says why for each workload and manifest check that has
none (the static tier holds both tables to the registered checks).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from policies.registry import Params


@dataclass(frozen=True)
class Validation:
    """One CEL test (true admits) and what a denial says when it fails.

    `offenders` is a CEL list of what fails (containers, volumes, data keys) and `names`
    maps one offender `x` to its name, so the message names them; without it the message
    names the object only.
    """

    expression: str
    problem: str
    offenders: str | None = None
    names: str = "x.name"
    noun: str = "container"


@dataclass(frozen=True)
class Template:
    kinds: tuple[str, ...]
    validations: tuple[Validation, ...]
    # params of the policy: each object of this kind in the admitted object's namespace
    param_kind: str | None = None
    # the tests read the pod template (the WORKLOAD_VARIABLES), not the object itself
    pod_template: bool = True


def each_container(
    passes: str, problem: str, *, init: bool = True, serving_only: bool = False
) -> Validation:
    """`passes` (CEL over container `c`) must hold for every container of the pod template."""
    pool = "variables.containers" if init else "variables.appContainers"
    offenders = f"{pool}.filter(c, !({passes}))"
    if serving_only:
        offenders = f"(variables.serving ? {offenders} : [])"
    return Validation(f"size({offenders}) == 0", problem, offenders, "x.name")


TemplateFn = Callable[[Params], Template]
TEMPLATES: dict[str, TemplateFn] = {}

WITHOUT_TEMPLATE: dict[str, str] = {
    "pull-policy": "the API server defaults imagePullPolicy before admission, so an unset "
    "policy cannot be seen",
    "dedicated-service-account": "whether a chart renders the ServiceAccount is a property of "
    "the rendering, not of one object",
    "selector-matches-labels": "the API server's own validation refuses a mismatched "
    "apps/v1 selector before admission",
    "recommended-labels": "judged on chart renderings only",
    "not-default-namespace": "the default namespace carries no environment label",
    "hpa-target": "compares the HPA with the rendered workloads",
    "no-static-replicas": "compares a workload with the HPA that scales it",
    "min-replicas": "reads the HPA that scales the workload",
    "pdb-covers-workload": "compares PodDisruptionBudgets with workloads",
    "pdb-allows-eviction": "compares a PodDisruptionBudget with the workloads it selects",
    "topology-spread-valid": "the API server's own validation refuses most of it before admission",
    "network-policy": "compares NetworkPolicies with workloads",
    "service-selects-pods": "compares Services with workloads",
    "ingress-backend": "compares Ingresses with Services",
    "removed-versions": "a removed apiVersion never reaches admission",
    "rbac-least-privilege": "cluster-scoped ClusterRoles match every binding, whatever the "
    "namespace's environment",
    "strategy": "a workloadRef names a Deployment of the same manifests",
    "services": "compares a Rollout with the Services it names",
    "steps": "pause durations need Argo Rollouts' duration parser",
    "weights-achievable": "reads the HPA that scales the Rollout",
    "production-canary": "reads the AnalysisTemplates the steps run",
    "blue-green-promotion": "reads the AnalysisTemplates of the promotion analysis",
    "metric-names": "reads the metrics the service's code exports",
    "no-data-fails": "runs each condition through Argo Rollouts' own evaluator",
    "thresholds": "runs each condition through Argo Rollouts' own evaluator",
    "template-valid": "possible for AnalysisTemplates; not yet written",
    "templates-exist": "compares a Rollout with the AnalysisTemplates it names",
}
# ArgoCD's objects live in ArgoCD's namespace, which no environment label marks.
WITHOUT_TEMPLATE.update(
    dict.fromkeys(
        (
            "applicationset-matches-applications",
            "applicationset-missingkey",
            "destination",
            "ignore-differences-scoped",
            "pinned-revision",
            "production-manual-sync",
            "project-not-default",
            "project-restrictions",
            "staging-auto-sync",
        ),
        "judges ArgoCD's objects, which live outside the environments' namespaces",
    )
)


def template(check_name: str) -> Callable[[TemplateFn], TemplateFn]:
    def register(fn: TemplateFn) -> TemplateFn:
        if check_name in TEMPLATES:
            raise ValueError(f"CEL template for check {check_name!r} registered twice")
        TEMPLATES[check_name] = fn
        return fn

    return register


def serving_pod(passes: str, problem: str) -> Validation:
    """`passes` (CEL over the pod template) must hold when the workload serves."""
    return Validation(f"!variables.serving || ({passes})", problem)
