"""Traffic to the pods: Services that select them on declared ports, Ingress backends that
exist, and a NetworkPolicy for every workload.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from policies.model import Bundle, Obj, Violation, as_dict, as_list
from policies.registry import Params, check
from policies.workloads import pod_templates, selects, selects_map


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
        for container in (c for pod in pods for c in pod.containers(init=False)):
            n, m = container.declared_ports()
            numbers |= n
            names |= m
        for index, port in enumerate(as_list(service.get("spec", "ports"))):
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
    for r, rule in enumerate(as_list(ingress.get("spec", "rules"))):
        for p, path in enumerate(as_list(as_dict(as_dict(rule).get("http")).get("paths"))):
            service = as_dict(as_dict(path).get("backend")).get("service")
            if isinstance(service, dict):
                yield ("spec", "rules", r, "http", "paths", p, "backend", "service"), service


def _alb(ingress: Obj) -> bool:
    annotations = ingress.metadata.get("annotations") or {}
    return (
        ingress.get("spec", "ingressClassName") == "alb"
        or annotations.get("kubernetes.io/ingress.class") == "alb"
    )


@check("ingress-backend", "manifests")
def ingress_backend(bundle: Bundle, params: Params) -> Iterator[Violation]:
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


@check("network-policy", "manifests")
def network_policy(bundle: Bundle, params: Params) -> Iterator[Violation]:
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
