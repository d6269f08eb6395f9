"""Object-graph checks: selectors, Services, Ingresses, NetworkPolicies, labels, APIs, RBAC,
secrets."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from policies.model import Bundle, Obj, Violation
from policies.registry import REQUIRED, check
from policies.workloads import PodTemplate, pod_templates, selector_labels, selects, selects_map

Params = Mapping[str, Any]


@check("selector-matches-template", "manifests")
def selector_matches_template(bundle: Bundle, params: Params) -> Iterator[Violation]:
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


def _container_ports(pod: PodTemplate) -> tuple[set[int], set[str]]:
    numbers, names = set(), set()
    for container in pod.containers(init=False):
        for port in container.data.get("ports") or []:
            if isinstance(port, dict):
                if isinstance(port.get("containerPort"), int):
                    numbers.add(port["containerPort"])
                if port.get("name"):
                    names.add(str(port["name"]))
    return numbers, names


@check("service-selects-pods", "manifests")
def service_selects_pods(bundle: Bundle, params: Params) -> Iterator[Violation]:
    for service in bundle.of_kind("Service"):
        selector = service.get("spec", "selector")
        if not selector or service.get("spec", "type") == "ExternalName":
            continue
        pods = [
            p
            for p in pod_templates(bundle)
            if p.owner.namespace == service.namespace and selects_map(selector, p.labels)
        ]
        if not pods:
            yield service.violation(
                f"selector {selector} matches no pod template", path=("spec", "selector")
            )
            continue
        numbers: set[int] = set()
        names: set[str] = set()
        for pod in pods:
            n, m = _container_ports(pod)
            numbers |= n
            names |= m
        for index, port in enumerate(service.get("spec", "ports") or []):
            if not isinstance(port, dict):
                continue
            target = port.get("targetPort", port.get("port"))
            ok = target in numbers if isinstance(target, int) else str(target) in names
            if not ok:
                yield service.violation(
                    f"port {port.get('name') or port.get('port')} targets {target!r}, which no "
                    "selected container declares",
                    path=("spec", "ports", index, "targetPort"),
                    fix="set targetPort to a containerPort name or number of the selected pods",
                )


def _ingress_backends(ingress: Obj) -> Iterator[tuple[tuple[Any, ...], dict[str, Any]]]:
    default = ingress.get("spec", "defaultBackend", "service")
    if isinstance(default, dict):
        yield ("spec", "defaultBackend", "service"), default
    for r, rule in enumerate(ingress.get("spec", "rules") or []):
        for p, path in enumerate(
            (rule.get("http") or {}).get("paths") or [] if isinstance(rule, dict) else []
        ):
            service = (path.get("backend") or {}).get("service") if isinstance(path, dict) else None
            if isinstance(service, dict):
                yield ("spec", "rules", r, "http", "paths", p, "backend", "service"), service


def _alb(ingress: Obj) -> bool:
    annotations = ingress.metadata.get("annotations") or {}
    return (
        ingress.get("spec", "ingressClassName") == "alb"
        or annotations.get("kubernetes.io/ingress.class") == "alb"
    )


@check("ingress-backend-service", "manifests")
def ingress_backend_service(bundle: Bundle, params: Params) -> Iterator[Violation]:
    for ingress in bundle.of_kind("Ingress"):
        for path, backend in _ingress_backends(ingress):
            name = backend.get("name")
            service = bundle.find("Service", str(name))
            if service is None:
                yield ingress.violation(f'backend Service "{name}" is not rendered', path=path)
                continue
            port = backend.get("port") or {}
            if port.get("name") == "use-annotation" and _alb(ingress):
                continue  # ALB action: the controller (or Argo Rollouts) writes the annotation
            ports = [p for p in service.get("spec", "ports") or [] if isinstance(p, dict)]
            if "number" in port and port["number"] not in {p.get("port") for p in ports}:
                yield ingress.violation(
                    f'Service "{name}" has no port {port["number"]}', path=(*path, "port")
                )
            if "name" in port and port["name"] not in {p.get("name") for p in ports}:
                yield ingress.violation(
                    f'Service "{name}" has no port named {port["name"]!r}', path=(*path, "port")
                )


@check("network-policy-coverage", "manifests")
def network_policy_coverage(bundle: Bundle, params: Params) -> Iterator[Violation]:
    policies = bundle.of_kind("NetworkPolicy")
    for pod in pod_templates(bundle):
        covered = any(
            p.namespace == pod.owner.namespace and selects(p.get("spec", "podSelector"), pod.labels)
            for p in policies
        )
        if not covered:
            yield pod.owner.violation(
                "no NetworkPolicy selects its pods", values_key="networkPolicy"
            )


def _percent_or_int(value: Any) -> str:
    return str(value) if value is not None else "unset"


@check("deployment-rolling-update", "manifests", max_surge="25%", max_unavailable=0)
def deployment_rolling_update(bundle: Bundle, params: Params) -> Iterator[Violation]:
    want_surge, want_unavailable = params["max_surge"], params["max_unavailable"]
    for pod in pod_templates(bundle):
        deployment = pod.owner
        if deployment.kind != "Deployment":
            continue
        strategy = deployment.get("spec", "strategy") or {}
        kind = strategy.get("type", "RollingUpdate")
        rolling = strategy.get("rollingUpdate") or {}
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


@check("namespace-not-default", "manifests")
def namespace_not_default(bundle: Bundle, params: Params) -> Iterator[Violation]:
    for obj in bundle.objects:
        if obj.metadata.get("namespace") == "default":
            yield obj.violation(
                "is placed in the default namespace", path=("metadata", "namespace")
            )


@check("deprecated-apis", "manifests", removed=REQUIRED, target_version=REQUIRED)
def deprecated_apis(bundle: Bundle, params: Params) -> Iterator[Violation]:
    """Pluto's table: apiVersions removed at or before the target Kubernetes minor."""
    target = tuple(int(x) for x in str(params["target_version"]).split("."))
    for obj in bundle.objects:
        for entry in params["removed"]:
            if entry["apiVersion"] != obj.api_version:
                continue
            if entry.get("kind") not in (None, obj.kind):
                continue
            removed_in = tuple(int(x) for x in str(entry["removedIn"]).split("."))
            if removed_in <= target:
                yield obj.violation(
                    f"{obj.api_version} {obj.kind} was removed in Kubernetes {entry['removedIn']}",
                    path=("apiVersion",),
                    fix=f"use apiVersion {entry['replacement']}",
                )


@check("rbac-least-privilege", "manifests", forbidden_roles=["cluster-admin", "admin", "edit"])
def rbac_least_privilege(bundle: Bundle, params: Params) -> Iterator[Violation]:
    for role in bundle.of_kind("Role", "ClusterRole"):
        for index, rule in enumerate(role.get("rules") or []):
            if not isinstance(rule, dict):
                continue
            wild = [f for f in ("apiGroups", "resources", "verbs") if "*" in (rule.get(f) or [])]
            if wild:
                yield role.violation(
                    f"rules[{index}] uses the wildcard '*' in {', '.join(wild)}",
                    path=("rules", index),
                    fix="list the exact apiGroups, resources and verbs the subject needs",
                )
    for binding in bundle.of_kind("RoleBinding", "ClusterRoleBinding"):
        role_ref = binding.get("roleRef") or {}
        if (
            role_ref.get("kind") == "ClusterRole"
            and role_ref.get("name") in params["forbidden_roles"]
        ):
            yield binding.violation(
                f"binds the built-in ClusterRole {role_ref['name']}",
                path=("roleRef",),
                fix="bind a Role that grants only what the subject needs",
            )


SECRET_NAME = re.compile(
    r"(PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|CREDENTIALS?)", re.IGNORECASE
)
URL_PASSWORD = re.compile(r"://[^/\s:@]+:([^@\s/]+)@")


def _secretish(name: str, value: Any) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return None
    match = URL_PASSWORD.search(value)
    if match and not match.group(1).startswith("$("):
        return "contains a URL with an inline password"
    if SECRET_NAME.search(name) and not value.startswith("$("):
        return "holds a literal secret value"
    return None


@check("secrets-in-config", "manifests")
def secrets_in_config(bundle: Bundle, params: Params) -> Iterator[Violation]:
    for pod in pod_templates(bundle):
        for container in pod.containers():
            for index, env in enumerate(container.data.get("env") or []):
                if not isinstance(env, dict) or "value" not in env:
                    continue
                problem = _secretish(str(env.get("name")), env.get("value"))
                if problem:
                    yield pod.violation(
                        f"env {env.get('name')} {problem}",
                        container=container,
                        field=("env", index, "value"),
                    )
    for config_map in bundle.of_kind("ConfigMap"):
        for key, value in (config_map.get("data") or {}).items():
            problem = _secretish(str(key), value)
            if problem:
                yield config_map.violation(f"data key {key} {problem}", path=("data", key))


@check("env-no-duplicates", "workloads")
def env_no_duplicates(pod: PodTemplate, bundle: Bundle, params: Params) -> Iterator[Violation]:
    """Kubernetes keeps the last duplicate silently; the first one looks effective but is not."""
    for container in pod.containers():
        seen: set[str] = set()
        for index, env in enumerate(container.data.get("env") or []):
            name = env.get("name") if isinstance(env, dict) else None
            if name in seen:
                yield pod.violation(
                    f"env {name} is defined more than once",
                    container=container,
                    field=("env", index),
                    fix=f"keep one definition of {name}",
                )
            if isinstance(name, str):
                seen.add(name)
