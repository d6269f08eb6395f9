"""The fallback without Argo Rollouts: the chart's Deployment rolls 25% / 0 (scenario 7).

With `rollouts.enabled: false` the chart renders a Deployment with `maxSurge: 25%` and
`maxUnavailable: 0`. The scenario watches every pod event of the update and checks the
promise those numbers make: never fewer Ready pods than desired, never more pods than
desired + 25%. `minReadySeconds` (a value) spreads the update over several batches so
there is something to watch; kwok would otherwise make every pod available at once.
"""

from __future__ import annotations

import math
import threading
import time
from typing import Any

import pytest

from fixtures.core.helm import Release
from fixtures.core.kube import wait_until
from fixtures.core.rollout import deployment_health
from fixtures.e2e.scenario import Scenario

pytestmark = pytest.mark.e2e

REPLICAS = 8
SURGE = math.ceil(REPLICAS * 0.25)


class PodCounter:
    """Lists, then watches, the release's pods; after every change records how many of
    the pods that are not terminating are Ready, how many there are, and their images."""

    def __init__(self, scenario: Scenario, release: Release) -> None:
        self.scenario = scenario
        self.selector = f"app.kubernetes.io/instance={release.name}"
        self.pods: dict[str, tuple[bool, str]] = {}
        self.samples: list[tuple[float, int, int, dict[str, int]]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> PodCounter:
        self._thread.start()
        wait_until(
            lambda: None if self.samples else "no pod event yet", "the pod watch to start", 10
        )
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _observe(self, pod: Any, deleted: bool) -> None:
        name = pod.metadata.name
        if deleted or pod.metadata.deletion_timestamp is not None:
            self.pods.pop(name, None)
            return
        ready = any(c.type == "Ready" and c.status == "True" for c in (pod.status.conditions or []))
        self.pods[name] = (ready, pod.spec.containers[0].image.rsplit(":", 1)[-1])

    def _sample(self) -> None:
        images: dict[str, int] = {}
        for _, tag in self.pods.values():
            images[tag] = images.get(tag, 0) + 1
        ready_count = sum(1 for ready, _ in self.pods.values() if ready)
        self.samples.append((time.monotonic(), ready_count, len(self.pods), images))

    def _run(self) -> None:
        from kubernetes import watch

        module: Any = watch
        core = self.scenario.cluster.core
        # The state first (one list), then every change after it: no partial start.
        listed = core.list_namespaced_pod(self.scenario.namespace, label_selector=self.selector)
        for pod in listed.items:
            self._observe(pod, deleted=False)
        self._sample()
        version = listed.metadata.resource_version
        while not self._stop.is_set():
            stream = module.Watch().stream(
                core.list_namespaced_pod, self.scenario.namespace,
                label_selector=self.selector, resource_version=version, timeout_seconds=2,
            )  # fmt: skip
            for event in stream:
                pod = event["object"]
                version = pod.metadata.resource_version
                self._observe(pod, deleted=event["type"] == "DELETED")
                self._sample()
                if self._stop.is_set():
                    break


def test_deployment_rolls_without_dropping_below_desired(scenario: Scenario) -> None:
    with scenario.given(f"the chart without Argo Rollouts: a Deployment of {REPLICAS}, version a"):
        release = scenario.install(
            "a", replicaCount=REPLICAS, minReadySeconds=1, rollouts={"enabled": False}
        )
        assert release.kind == "Deployment"
        strategy = scenario.cluster.apps.read_namespaced_deployment(
            release.workload, scenario.namespace
        ).spec.strategy.rolling_update
        assert (strategy.max_surge, strategy.max_unavailable) == ("25%", 0)

    with PodCounter(scenario, release) as pods:
        with scenario.when("the image is updated to b"):
            scenario.update("b")
        with scenario.then(f"the Deployment completes: {REPLICAS} pods of b, all available"):
            path = f"/apis/apps/v1/namespaces/{scenario.namespace}/deployments/{release.workload}"
            wait_until(
                lambda: (
                    deployment_health(scenario.cluster.kube.get(path) or {"metadata": {}})
                    or (None if pods.samples[-1][3] == {"b": REPLICAS} else str(pods.samples[-1]))
                ),
                f"deployment {scenario.namespace}/{release.workload} to be complete on b",
                60 + REPLICAS // SURGE * scenario.platform.pod_start_seconds,
            )

    timeline = "\n".join(f"{t:.2f} ready={r} total={n} {img}" for t, r, n, img in pods.samples)
    with scenario.and_(f"at every pod event at least {REPLICAS} pods were Ready"):
        assert min(r for _, r, _, _ in pods.samples) >= REPLICAS, timeline
    with scenario.and_(f"and never more than {REPLICAS + SURGE} pods ran (25% surge)"):
        assert max(n for _, _, n, _ in pods.samples) <= REPLICAS + SURGE, timeline
    with scenario.and_("the update went in several batches (a rolling update, not a swap)"):
        mixed = [img for _, _, _, img in pods.samples if len(img) == 2]
        assert mixed, timeline
        b_counts = sorted({img.get("b", 0) for img in mixed})
        assert len(b_counts) >= 3, timeline
    scenario.record("rolling_update_seconds", round(pods.samples[-1][0] - pods.samples[0][0], 1))
