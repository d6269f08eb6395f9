"""What the validate tier reads from the cluster, and the judgements it makes about it.

Everything here is a GET: the tier runs under a get/list/watch identity
(deploy/rbac/validate-readonly.yaml), so a write would be a 403, and a 403 on a read is
reported as a missing permission of that identity, naming the resource.

The objects are plain dicts from the API (the same shape `kubectl get -o json` prints),
so the messages quote the fields a person would look up.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

ROLLOUT_HASH_LABEL = "rollouts-pod-template-hash"
DEPLOYMENT_HASH_LABEL = "pod-template-hash"
ZONE_LABEL = "topology.kubernetes.io/zone"
REQUEST_TIMEOUT = 10


class ReadForbidden(RuntimeError):
    """The identity running the tier may not read a resource it needs (RBAC)."""


class Kube:
    """GETs against the Kubernetes API of a kubernetes.client.ApiClient, as dicts."""

    def __init__(self, api: Any) -> None:
        self.api = api

    @property
    def host(self) -> str:
        return str(getattr(self.api.configuration, "host", "?"))

    def get(self, path: str, **query: str) -> dict[str, Any] | None:
        """The object at `path` (None when it does not exist)."""
        method, url, headers, _, _ = self.api.param_serialize(
            "GET",
            path,
            query_params=list(query.items()),
            header_params={"Accept": "application/json"},
            auth_settings=["BearerToken"],
        )
        response = self.api.call_api(
            method, url, header_params=headers, _request_timeout=REQUEST_TIMEOUT
        )
        response.read()
        if response.status == 404:
            return None
        if response.status in (401, 403):
            raise ReadForbidden(
                f"GET {path} at {self.host}: HTTP {response.status} {response.reason}: the "
                f"identity running the validate tier may not read this "
                f"(deploy/rbac/validate-readonly.yaml grants the reads it needs)"
            )
        if not 200 <= response.status < 300:
            raise RuntimeError(
                f"GET {path} at {self.host}: HTTP {response.status} {response.reason}: "
                f"{response.data[:300]!r}"
            )
        return dict(json.loads(response.data))

    def list(self, path: str, selector: str = "") -> list[dict[str, Any]]:
        """The items of a list path (empty when the resource type is not installed)."""
        query = {"labelSelector": selector} if selector else {}
        data = self.get(path, **query)
        return list((data or {}).get("items") or [])


def image_tag(image: str) -> str | None:
    """`repo/name:tag@sha256:...` -> `tag`; None when the reference has no tag."""
    name = image.split("@", 1)[0]
    colon = name.rfind(":")
    return name[colon + 1 :] if colon > name.rfind("/") else None


def short(tag: str | None) -> str:
    """A commit-SHA tag shortened to 12 characters for the summary table; others as they are."""
    if tag and len(tag) == 40 and all(c in "0123456789abcdef" for c in tag):
        return tag[:12]
    return str(tag)


def app_container(pod_spec: dict[str, Any]) -> dict[str, Any]:
    """The `app` container of a pod spec (the chart's name), else the first one."""
    containers = pod_spec.get("containers") or [{}]
    return next((c for c in containers if c.get("name") == "app"), containers[0])


def pod_image(pod: dict[str, Any]) -> str:
    return str(app_container(pod.get("spec") or {}).get("image"))


@dataclass
class Workload:
    """The release's Rollout (or Deployment) and the ReplicaSet hash of its current revision."""

    kind: str
    obj: dict[str, Any]
    current_hash: str | None
    replica_sets: list[dict[str, Any]] = field(default_factory=list)

    @property
    def name(self) -> str:
        return str(self.obj["metadata"]["name"])

    @property
    def namespace(self) -> str:
        return str(self.obj["metadata"]["namespace"])

    @property
    def ref(self) -> str:
        return f"{self.kind} {self.namespace}/{self.name}"

    @property
    def spec(self) -> dict[str, Any]:
        return dict(self.obj.get("spec") or {})

    @property
    def status(self) -> dict[str, Any]:
        return dict(self.obj.get("status") or {})

    @property
    def hash_label(self) -> str:
        return ROLLOUT_HASH_LABEL if self.kind == "Rollout" else DEPLOYMENT_HASH_LABEL

    @property
    def desired(self) -> int:
        replicas = self.spec.get("replicas")
        return 1 if replicas is None else int(replicas)

    @property
    def image(self) -> str:
        return str(app_container((self.spec.get("template") or {}).get("spec") or {}).get("image"))

    @property
    def generation_observed(self) -> bool:
        observed = self.status.get("observedGeneration")
        return observed is not None and str(observed) == str(self.obj["metadata"].get("generation"))

    # ---- judgements: None when fine, else what is wrong ----------------------------------

    def health(self) -> tuple[str, str | None]:
        """(measured, problem): Rollout phase Healthy / Deployment Available and complete."""
        status = self.status
        if self.kind == "Rollout":
            phase = status.get("phase") or "(no phase yet)"
            message = status.get("message") or ""
            measured = f"{phase}{f' ({message})' if message else ''}"
            if phase != "Healthy":
                return measured, f"{self.ref} phase to be Healthy, is {measured}"
            if not self.generation_observed:
                return measured, (
                    f"{self.ref} status to describe generation "
                    f"{self.obj['metadata'].get('generation')}, is for generation "
                    f"{status.get('observedGeneration')} (the controller has not caught up)"
                )
            return measured, None
        conditions = {c.get("type"): c for c in status.get("conditions") or []}
        available = conditions.get("Available", {})
        progressing = conditions.get("Progressing", {})
        measured = (
            f"Available={available.get('status', '?')}, "
            f"Progressing={progressing.get('reason', '?')}"
        )
        if available.get("status") != "True":
            return measured, (
                f"{self.ref} condition Available to be True, is {available.get('status', 'absent')}"
                f" ({available.get('reason', '')}: {available.get('message', '')})"
            )
        if progressing.get("reason") != "NewReplicaSetAvailable":
            return measured, (
                f"{self.ref} rollout to be complete (Progressing reason NewReplicaSetAvailable), "
                f"is {progressing.get('reason', 'absent')}: {progressing.get('message', '')}"
            )
        if not self.generation_observed:
            return measured, f"{self.ref} status to describe its latest generation, is older"
        return measured, None

    def promotion(self) -> tuple[str, str | None]:
        """(measured, problem): the current revision is the stable one, every step done."""
        status = self.status
        if self.kind == "Deployment":
            updated = int(status.get("updatedReplicas") or 0)
            measured = f"{updated}/{self.desired} pods on revision {self.current_hash}"
            if updated != self.desired:
                return measured, (
                    f"{self.ref} to have all {self.desired} pods on the current revision "
                    f"{self.current_hash}, has {updated}"
                )
            return measured, None
        current, stable = status.get("currentPodHash"), status.get("stableRS")
        strategy = self.spec.get("strategy") or {}
        if "blueGreen" in strategy:
            active = (status.get("blueGreen") or {}).get("activeSelector")
            measured = f"stable {stable}, current {current}, active {active}"
            if not (current and current == stable == active):
                return measured, (
                    f"{self.ref} to serve its current revision {current} as stable and active, "
                    f"is stable {stable}, active {active}"
                )
            return measured, None
        steps = len((strategy.get("canary") or {}).get("steps") or [])
        index = status.get("currentStepIndex")
        measured = f"stable {stable}, current {current}, step {index}/{steps}"
        if not current or current != stable:
            return measured, (
                f"{self.ref} stable ReplicaSet to be the current revision {current}, is {stable} "
                f"(the canary is not fully promoted)"
            )
        if steps and index is not None and int(index) < steps:
            return measured, f"{self.ref} canary step to be {steps} (done), is {index}"
        return measured, None

    def availability(self) -> tuple[str, str | None]:
        """(measured, problem): available == desired, all of them on the current revision."""
        status = self.status
        available = int(status.get("availableReplicas") or 0)
        updated = int(status.get("updatedReplicas") or 0)
        measured = f"available {available}, updated {updated}, desired {self.desired}"
        if updated < self.desired:
            return measured, (
                f"{self.ref} updated replicas to be {self.desired}, is {updated} ({measured})"
            )
        if available < self.desired:
            return measured, (
                f"{self.ref} available replicas to be {self.desired}, is {available} ({measured})"
            )
        return measured, None

    def pause_state(self) -> tuple[str, str | None]:
        """(measured, problem): nothing paused or aborted is left behind."""
        spec, status = self.spec, self.status
        found: list[str] = []
        if spec.get("paused"):
            found.append("spec.paused is true")
        if self.kind == "Rollout":
            if status.get("abort"):
                found.append(f"aborted ({status.get('message', '')})")
            for condition in status.get("pauseConditions") or []:
                found.append(f"pause condition {condition.get('reason')}")
            if status.get("controllerPause"):
                found.append("controllerPause is true")
        measured = "; ".join(found) or "not paused, not aborted"
        if found:
            return measured, f"{self.ref} to be neither paused nor aborted, is {measured}"
        return measured, None


def find_workload(kube: Kube, namespace: str, release: str) -> Workload | str:
    """The Rollout (else Deployment) of `release` in `namespace`, or why there is none."""
    selector = f"app.kubernetes.io/instance={release}"
    rollouts = kube.list(f"/apis/argoproj.io/v1alpha1/namespaces/{namespace}/rollouts", selector)
    deployments = kube.list(f"/apis/apps/v1/namespaces/{namespace}/deployments", selector)
    found = [("Rollout", o) for o in rollouts] + [("Deployment", o) for o in deployments]
    if len(found) != 1:
        names = ", ".join(f"{k} {o['metadata']['name']}" for k, o in found) or "none"
        return (
            f"exactly one Rollout or Deployment labelled {selector} in namespace {namespace} "
            f"to exist, found {names}"
        )
    kind, obj = found[0]
    if kind == "Rollout":
        current = (obj.get("status") or {}).get("currentPodHash")
        return Workload(kind, obj, current)
    replica_sets = [
        rs
        for rs in kube.list(f"/apis/apps/v1/namespaces/{namespace}/replicasets", selector)
        if any(
            o.get("uid") == obj["metadata"]["uid"]
            for o in rs["metadata"].get("ownerReferences") or []
        )
    ]
    revision = obj["metadata"].get("annotations", {}).get("deployment.kubernetes.io/revision")
    current_rs = next(
        (
            rs
            for rs in replica_sets
            if rs["metadata"].get("annotations", {}).get("deployment.kubernetes.io/revision")
            == revision
        ),
        None,
    )
    current = (current_rs or {}).get("metadata", {}).get("labels", {}).get(DEPLOYMENT_HASH_LABEL)
    return Workload(kind, obj, current, replica_sets)


def pod_ready(pod: dict[str, Any]) -> bool:
    conditions = (pod.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def restarts(pods: list[dict[str, Any]]) -> tuple[int, list[str]]:
    """Total container restarts of `pods` and one line per pod that restarted."""
    total, lines = 0, []
    for pod in pods:
        statuses = (pod.get("status") or {}).get("containerStatuses") or []
        count = sum(int(s.get("restartCount") or 0) for s in statuses)
        if not count:
            continue
        total += count
        last = ""
        for s in statuses:
            terminated = (s.get("lastState") or {}).get("terminated")
            waiting = (s.get("state") or {}).get("waiting")
            if waiting:
                last = f", now {waiting.get('reason')}"
            if terminated:
                last += (
                    f", last exit: {terminated.get('reason')} (code {terminated.get('exitCode')})"
                )
        lines.append(f"pod {pod['metadata']['name']} restarted {count}x{last}")
    return total, lines


def zones_of(pods: list[dict[str, Any]], nodes: list[dict[str, Any]]) -> Counter[str]:
    """Ready pods per topology.kubernetes.io/zone (nodes without the label count as '?')."""
    zone_of_node = {
        n["metadata"]["name"]: (n["metadata"].get("labels") or {}).get(ZONE_LABEL, "?")
        for n in nodes
    }
    counts: Counter[str] = Counter()
    for pod in pods:
        node = (pod.get("spec") or {}).get("nodeName")
        if node and pod_ready(pod):
            counts[zone_of_node.get(node, "?")] += 1
    return counts
