"""Pod templates of every workload kind, Argo `Rollout` included.

None of kube-score, Polaris, kube-linter or checkov looks inside a Rollout. Here every
workload rule runs on one `PodTemplate` abstraction, so a Rollout's `spec.template` and the
Deployment a Rollout names in `spec.workloadRef` are checked exactly like a Deployment.
A Deployment used only as a Rollout's template is reported through the Rollout.
Also here: what several rule groups ask of a workload (its image references, its declared
ports, the HPAs that scale it and the fewest pods it runs).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any

from policies.model import Bundle, Obj, PathKey, Violation, as_dict, as_list

# kind -> path of the pod template (metadata + spec) inside the object
TEMPLATE_PATHS: dict[str, tuple[str, ...]] = {
    "Deployment": ("spec", "template"),
    "StatefulSet": ("spec", "template"),
    "DaemonSet": ("spec", "template"),
    "ReplicaSet": ("spec", "template"),
    "Job": ("spec", "template"),
    "CronJob": ("spec", "jobTemplate", "spec", "template"),
    "Rollout": ("spec", "template"),
    "Pod": (),
}
# Workloads that keep pods running (probes, replicas, PDBs make sense for these).
SERVING_KINDS = frozenset({"Deployment", "StatefulSet", "Rollout", "ReplicaSet"})


@dataclass(frozen=True, slots=True)
class Container:
    data: dict[str, Any]
    path: tuple[PathKey, ...]
    init: bool

    @property
    def name(self) -> str:
        return str(self.data.get("name") or "<unnamed>")

    @property
    def security(self) -> dict[str, Any]:
        return as_dict(self.data.get("securityContext"))

    @property
    def detail(self) -> str:
        word = "initContainer" if self.init else "container"
        return f'{word} "{self.name}"'

    def declared_ports(self) -> tuple[set[int], set[str]]:
        """The containerPort numbers and port names the container declares."""
        numbers, names = set(), set()
        for port in as_list(self.data.get("ports")):
            if isinstance(port, dict):
                if isinstance(port.get("containerPort"), int):
                    numbers.add(port["containerPort"])
                if port.get("name"):
                    names.add(str(port["name"]))
        return numbers, names


@dataclass(frozen=True)
class PodTemplate:
    """A pod template and the workload that owns it (what findings name).

    Every workload rule reads the same few parts of it; they are looked up once (cached
    properties: the objects are read-only)."""

    owner: Obj
    holder: Obj
    path: tuple[PathKey, ...]

    @property
    def kind(self) -> str:
        return self.owner.kind

    @cached_property
    def template(self) -> dict[str, Any]:
        return as_dict(self.holder.get(*self.path) if self.path else self.holder.data)

    @cached_property
    def metadata(self) -> dict[str, Any]:
        return as_dict(self.template.get("metadata"))

    @cached_property
    def labels(self) -> dict[str, Any]:
        return as_dict(self.metadata.get("labels"))

    @cached_property
    def spec(self) -> dict[str, Any]:
        return as_dict(self.template.get("spec"))

    @cached_property
    def spec_path(self) -> tuple[PathKey, ...]:
        return (*self.path, "spec")

    @cached_property
    def security(self) -> dict[str, Any]:
        return as_dict(self.spec.get("securityContext"))

    @property
    def serving(self) -> bool:
        return self.owner.kind in SERVING_KINDS

    def containers(self, init: bool = True) -> list[Container]:
        return self._all_containers if init else self._main_containers

    @cached_property
    def _all_containers(self) -> list[Container]:
        return self._containers(("initContainers", "containers"))

    @cached_property
    def _main_containers(self) -> list[Container]:
        return self._containers(("containers",))

    def _containers(self, fields: tuple[str, ...]) -> list[Container]:
        found: list[Container] = []
        for field_name in fields:
            items = self.spec.get(field_name)
            if not isinstance(items, list):
                continue
            for index, item in enumerate(items):
                if isinstance(item, dict):
                    path = (*self.spec_path, field_name, index)
                    found.append(Container(item, path, field_name == "initContainers"))
        return found

    def violation(
        self,
        message: str,
        *,
        container: Container | None = None,
        field: tuple[PathKey, ...] = (),
        values_key: str | None = None,
        fix: str | None = None,
    ) -> Violation:
        """A violation named after the owner, pointing into the holder's template."""
        base = container.path if container else self.spec_path
        detail = container.detail if container else ""
        if self.holder is not self.owner:
            via = f"(template from {self.holder.kind}/{self.holder.name})"
            detail = f"{detail} {via}".strip()
        v = self.holder.violation(
            message, path=(*base, *field), detail=detail, values_key=values_key, fix=fix
        )
        if self.holder is not self.owner:
            return replace(v, subject=f"{self.owner.ref} {detail}")
        return v


def pod_templates(bundle: Bundle) -> list[PodTemplate]:
    """Every pod template in the bundle (computed once per bundle)."""
    cached = bundle.cache.get("pod_templates")
    if cached is None:
        cached = list(_pod_templates(bundle))
        bundle.cache["pod_templates"] = cached
    return cached


def _pod_templates(bundle: Bundle) -> Iterator[PodTemplate]:
    referenced: set[int] = set()
    for rollout in bundle.of_kind("Rollout"):
        target = workload_ref_target(rollout, bundle)
        if target is not None:
            referenced.add(id(target))
    for obj in bundle.objects:
        path = TEMPLATE_PATHS.get(obj.kind)
        if path is None or id(obj) in referenced:
            continue
        if obj.kind == "Rollout" and obj.get("spec", "workloadRef") is not None:
            target = workload_ref_target(obj, bundle)
            if target is not None and target.kind in TEMPLATE_PATHS:
                yield PodTemplate(owner=obj, holder=target, path=TEMPLATE_PATHS[target.kind])
            continue
        yield PodTemplate(owner=obj, holder=obj, path=path)


def workload_ref_target(rollout: Obj, bundle: Bundle) -> Obj | None:
    ref = rollout.get("spec", "workloadRef")
    if not isinstance(ref, dict):
        return None
    kind, name = ref.get("kind"), ref.get("name")
    if not isinstance(kind, str) or not isinstance(name, str):
        return None
    return bundle.find(kind, name)


def selector_labels(obj: Obj) -> dict[str, Any] | None:
    """`spec.selector.matchLabels` of a workload (None when it has no usable selector)."""
    sel = obj.get("spec", "selector")
    if isinstance(sel, dict):
        labels = sel.get("matchLabels")
        if isinstance(labels, dict) and labels:
            return labels
    return None


def selects_map(selector: Any, labels: dict[str, Any]) -> bool:
    """A Service-style selector (a plain map): every pair must match; empty selects nothing."""
    if not isinstance(selector, dict) or not selector:
        return False
    return all(str(labels.get(k)) == str(v) and k in labels for k, v in selector.items())


def selects(selector: Any, labels: dict[str, Any]) -> bool:
    """A LabelSelector (matchLabels + matchExpressions); an empty one selects every pod."""
    if not isinstance(selector, dict):
        return False
    match_labels = selector.get("matchLabels") or {}
    if not isinstance(match_labels, dict):
        return False
    if any(k not in labels or str(labels[k]) != str(v) for k, v in match_labels.items()):
        return False
    return all(_expression_holds(e, labels) for e in as_list(selector.get("matchExpressions")))


def _expression_holds(expr: Any, labels: dict[str, Any]) -> bool:
    if not isinstance(expr, dict):
        return False
    key, op = str(expr.get("key")), expr.get("operator")
    values = {str(v) for v in expr.get("values") or []}
    present = key in labels
    if op == "In":
        return present and str(labels[key]) in values
    if op == "NotIn":
        return not (present and str(labels[key]) in values)
    if op == "Exists":
        return present
    if op == "DoesNotExist":
        return not present
    return False


def replicas_of(obj: Obj) -> int | None:
    value = obj.get("spec", "replicas")
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def scale_target(hpa: Obj) -> tuple[str, str, str]:
    """(apiVersion, kind, name) of an HPA's scaleTargetRef."""
    ref = as_dict(hpa.get("spec", "scaleTargetRef"))
    return str(ref.get("apiVersion") or ""), str(ref.get("kind") or ""), str(ref.get("name") or "")


def hpas_for(workload: Obj, bundle: Bundle) -> list[Obj]:
    return [
        hpa
        for hpa in bundle.of_kind("HorizontalPodAutoscaler")
        if scale_target(hpa)[1:] == (workload.kind, workload.name)
        and hpa.namespace == workload.namespace
    ]


def fewest_pods(workload: Obj, bundle: Bundle) -> tuple[int, str]:
    """The fewest pods the workload runs, and what sets that number."""
    hpas = hpas_for(workload, bundle)
    if hpas:
        value = hpas[0].get("spec", "minReplicas", default=1)
        return (value if isinstance(value, int) else 1), f"{hpas[0].ref} minReplicas"
    value = replicas_of(workload)
    return (1 if value is None else value), "spec.replicas"


def split_image(image: str) -> tuple[str, str | None, str | None]:
    """(repository, tag, digest) of an image reference."""
    digest = None
    if "@" in image:
        image, digest = image.split("@", 1)
    last = image.rsplit("/", 1)[-1]
    tag = None
    if ":" in last:
        image, tag = image.rsplit(":", 1)
    return image, tag, digest
