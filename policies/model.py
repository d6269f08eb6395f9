"""What the engine works on (objects, bundles) and what a check reports (violations).

A check never builds the final message itself: it yields a `Violation` (which object,
what is wrong, where) and the engine (`policies/engine.py`) makes it a `Finding` with the
rule's id, severity and remediation, so every finding reads the same way:
`[pod-security/run-as-non-root] Rollout/production/sre-platform container "app":
runAsNonRoot is not true. Fix: set securityContext.runAsNonRoot: true`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

PathKey = str | int


# Kinds without a namespace: findings name them Kind/name, and every namespace's bundle of
# plain manifests sees them (a Rollout finds its ClusterAnalysisTemplate).
CLUSTER_SCOPED = frozenset(
    {
        "ClusterAnalysisTemplate",
        "ClusterRole",
        "ClusterRoleBinding",
        "Namespace",
        "PriorityClass",
        "IngressClass",
        "StorageClass",
        "CustomResourceDefinition",
    }
)


class Severity(StrEnum):
    """How a finding counts: an error fails the tier, a warning is reported only."""

    ERROR = "error"
    WARNING = "warning"
    OFF = "off"


def as_dict(value: Any) -> dict[str, Any]:
    """`value` when it is a mapping, else an empty one (YAML may hold anything anywhere)."""
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list[Any]:
    """`value` when it is a list, else an empty one."""
    return value if isinstance(value, list) else []


def get_path(data: Any, path: Sequence[PathKey], default: Any = None) -> Any:
    """`data[path[0]][path[1]]...`, or `default` when any step is missing or of another type."""
    node = data
    for key in path:
        if isinstance(key, int):
            if not isinstance(node, list) or not -len(node) <= key < len(node):
                return default
        elif not isinstance(node, dict) or key not in node:
            return default
        node = node[key]
    return node


@dataclass(eq=False, slots=True)
class Obj:
    """One Kubernetes object and where it came from.

    `file` is the repository file a person edits to change it: the manifest itself, or for
    rendered objects the chart template named by helm's `# Source:` comment (`rendered`).
    """

    data: dict[str, Any]
    file: str
    doc: int = 0
    rendered: bool = False
    default_namespace: str | None = None

    @property
    def kind(self) -> str:
        return str(self.data.get("kind") or "")

    @property
    def api_version(self) -> str:
        return str(self.data.get("apiVersion") or "")

    @property
    def metadata(self) -> dict[str, Any]:
        return as_dict(self.data.get("metadata"))

    @property
    def name(self) -> str:
        return str(self.metadata.get("name") or "<unnamed>")

    @property
    def namespace(self) -> str:
        return str(self.metadata.get("namespace") or self.default_namespace or "default")

    @property
    def labels(self) -> dict[str, Any]:
        return as_dict(self.metadata.get("labels"))

    @property
    def spec(self) -> dict[str, Any]:
        return as_dict(self.data.get("spec"))

    @property
    def ref(self) -> str:
        """`Kind/namespace/name` (`Kind/name` when cluster-scoped), how findings name it."""
        if self.kind in CLUSTER_SCOPED:
            return f"{self.kind}/{self.name}"
        return f"{self.kind}/{self.namespace}/{self.name}"

    def get(self, *path: PathKey, default: Any = None) -> Any:
        return get_path(self.data, path, default)

    def violation(
        self,
        message: str,
        *,
        path: Sequence[PathKey] = (),
        detail: str = "",
        values_key: str | None = None,
        fix: str | None = None,
        severity: Severity | None = None,
    ) -> Violation:
        """A violation about this object; `detail` adds e.g. `container "app"` to the subject."""
        subject = f"{self.ref} {detail}" if detail else self.ref
        return Violation(
            subject=subject,
            message=message,
            file=self.file,
            doc=self.doc,
            path=tuple(path),
            rendered=self.rendered,
            values_key=values_key,
            fix=fix,
            severity=severity,
        )


@dataclass(frozen=True, slots=True)
class Violation:
    """What a check reports: the subject, what is wrong, and where to point a person."""

    subject: str
    message: str
    file: str | None = None
    doc: int = 0
    path: tuple[PathKey, ...] = ()
    line: int | None = None
    rendered: bool = False
    values_key: str | None = None
    fix: str | None = None
    # At most this severity: a check that cannot judge something (an analysis provider it
    # cannot run) says so as a warning, never as an error the rule's severity would make it.
    severity: Severity | None = None


@dataclass(frozen=True, slots=True)
class ServiceMetric:
    """One series name the service exports, with its label names."""

    name: str
    labels: frozenset[str]
    source: str


@dataclass(frozen=True, slots=True)
class Facts:
    """What the checks know about the project beyond the objects under test."""

    service_metrics: Mapping[str, ServiceMetric] = field(default_factory=dict)
    service_metrics_source: str = ""


@dataclass(eq=False)
class Bundle:
    """A set of manifests checked together: one rendering of the chart, or the argocd/ folder."""

    name: str
    objects: list[Obj]
    env: str | None = None
    facts: Facts = field(default_factory=Facts)
    values_files: tuple[str, ...] = ()
    skipped: list[Obj] = field(default_factory=list, repr=False)  # not judged (Helm test hooks)
    _by_kind: dict[str, list[Obj]] | None = field(default=None, repr=False)
    cache: dict[str, Any] = field(default_factory=dict, repr=False)

    def of_kind(self, *kinds: str) -> list[Obj]:
        if self._by_kind is None:
            index: dict[str, list[Obj]] = {}
            for obj in self.objects:
                index.setdefault(obj.kind, []).append(obj)
            self._by_kind = index
        if len(kinds) == 1:
            return self._by_kind.get(kinds[0], [])
        return [obj for kind in kinds for obj in self._by_kind.get(kind, [])]

    def find(self, kind: str, name: str) -> Obj | None:
        for obj in self.of_kind(kind):
            if obj.name == name:
                return obj
        return None
