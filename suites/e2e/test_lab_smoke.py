"""Smoke test of the cluster: this repository's chart, as a Rollout, walks its canary steps.

Given the chart rendered with the lab's values and a short canary (setWeight 25, a timed
pause, setWeight 50, an indefinite pause), applied to the cluster,
when the Rollout is Healthy and its image is then updated,
then the controller walks the steps in order, stops at the indefinite pause with half the
replicas updated, and after a promote ends Healthy on the new version.

It proves the plumbing every e2e scenario stands on: the chart renders and applies, the
Argo Rollouts controller reconciles, the scheduler places pods, kwok (or kubelets) make
them Ready. Analysis is left out on purpose: it needs traffic and has its own scenarios.
On the lab, a third test checks the metrics path the analysis depends on: Prometheus'
extension points (file_sd targets with their labels, scrape.d jobs) and kube-state-metrics'
restart counts.
"""

from __future__ import annotations

import json
import subprocess
import threading
import uuid
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests

from fixtures import lab
from fixtures.cluster import Cluster
from fixtures.kube import wait_until
from fixtures.tools import REPO_ROOT, tool_path

pytestmark = pytest.mark.e2e

RELEASE = "smoke"
ROLLOUT = "smoke-sre-platform"
REPLICAS = 4
STEPS: list[dict[str, Any]] = [
    {"setWeight": 25},
    {"pause": {"duration": "2s"}},
    {"setWeight": 50},
    {"pause": {}},
]
INDEFINITE_PAUSE = 3
TIMEOUT = 90


def render_chart(namespace: str, image_tag: str) -> str:
    """The chart with the lab's values, a short canary and no analysis steps."""
    argv = [
        str(tool_path("helm")),
        "template",
        RELEASE,
        str(REPO_ROOT / "helm"),
        "--namespace",
        namespace,
        "-f",
        str(REPO_ROOT / "helm" / "values-lab.yaml"),
        "--set",
        f"image.tag={image_tag}",
        "--set",
        f"replicaCount={REPLICAS}",
        "--set-json",
        f"rollouts.canary.steps={json.dumps(STEPS)}",
    ]
    result = subprocess.run(argv, capture_output=True, text=True, check=False)
    assert result.returncode == 0, f"helm template failed: {result.stderr.strip()}"
    return result.stdout


class RolloutRecorder:
    """Watches one Rollout and records every (step index, phase) it reports, in order."""

    def __init__(self, cluster: Cluster, namespace: str, name: str) -> None:
        self.cluster, self.namespace, self.name = cluster, namespace, name
        self.seen: list[tuple[int | None, str | None]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> RolloutRecorder:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        from kubernetes import watch

        while not self._stop.is_set():
            w = watch.Watch()
            for event in w.stream(
                self.cluster.custom.list_namespaced_custom_object,
                "argoproj.io",
                "v1alpha1",
                self.namespace,
                "rollouts",
                field_selector=f"metadata.name={self.name}",
                timeout_seconds=2,
            ):
                status = event["object"].get("status", {})
                observation = (status.get("currentStepIndex"), status.get("phase"))
                if not self.seen or self.seen[-1] != observation:
                    self.seen.append(observation)
                if self._stop.is_set():
                    w.stop()

    def step_indexes(self) -> list[int | None]:
        """The step indexes reported, in order, repeats collapsed."""
        order: list[int | None] = []
        for index, _ in self.seen:
            if not order or order[-1] != index:
                order.append(index)
        return order


def rollout_status(cluster: Cluster, namespace: str) -> dict[str, Any]:
    obj = cluster.custom.get_namespaced_custom_object(
        "argoproj.io", "v1alpha1", namespace, "rollouts", ROLLOUT
    )
    return dict(obj.get("status", {}))


def expect_phase(cluster: Cluster, namespace: str, phase: str, **fields: Any) -> None:
    """Wait until the Rollout reports `phase` (and each status field has its value)."""
    __tracebackhide__ = True

    def check() -> str | None:
        status = rollout_status(cluster, namespace)
        wanted = {"phase": phase, **fields}
        actual = {key: status.get(key) for key in wanted}
        if actual == wanted:
            return None
        return f"{actual} (message: {status.get('message', '')!r})"

    wait_until(check, f"rollout {namespace}/{ROLLOUT} to be {phase} {fields or ''}", TIMEOUT)


@pytest.fixture
def namespace(cluster: Cluster) -> Iterator[str]:
    name = f"smoke-{uuid.uuid4().hex[:6]}"
    cluster.kubectl("create", "namespace", name)
    yield name
    if not cluster.keep:
        cluster.kubectl("delete", "namespace", name, "--wait=false", check=False)


def test_rollout_walks_canary_steps(cluster: Cluster, namespace: str) -> None:
    if cluster.provider == "kind":
        pytest.skip(
            "on kind the pods really run: v1/v2 must be real images with a database (the "
            "scenarios' kind platform, docs/e2e.md); test_kind_smoke.py covers the kind cluster"
        )
    # Given: version v1 of the chart, applied and Healthy
    cluster.kubectl("apply", "-n", namespace, "-f", "-", input=render_chart(namespace, "v1"))
    expect_phase(cluster, namespace, "Healthy", readyReplicas=REPLICAS)

    with RolloutRecorder(cluster, namespace, ROLLOUT) as recorder:
        # When: the image is updated to v2
        cluster.kubectl("apply", "-n", namespace, "-f", "-", input=render_chart(namespace, "v2"))

        # Then: the controller stops at the indefinite pause with half the pods on v2
        expect_phase(
            cluster,
            namespace,
            "Paused",
            currentStepIndex=INDEFINITE_PAUSE,
            updatedReplicas=REPLICAS // 2,
        )
        status = rollout_status(cluster, namespace)
        assert [c["reason"] for c in status.get("pauseConditions", [])] == ["CanaryPauseStep"]

        # When: promoted with the Argo Rollouts CLI
        promote = subprocess.run(
            [str(tool_path("kubectl-argo-rollouts")), "promote", ROLLOUT, "-n", namespace,
             f"--kubeconfig={cluster.kubeconfig}"],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert promote.returncode == 0, promote.stderr

        # Then: Healthy, every step done, v2 is the stable ReplicaSet
        expect_phase(cluster, namespace, "Healthy", currentStepIndex=len(STEPS))
        status = rollout_status(cluster, namespace)
        assert status["stableRS"] == status["currentPodHash"]

    # v1 done (index 4), then v2 from step 0 through every step to done, never skipping one
    assert recorder.step_indexes() == [len(STEPS), *range(len(STEPS) + 1)], recorder.seen
    assert (INDEFINITE_PAUSE, "Paused") in recorder.seen, recorder.seen
    images = cluster.kubectl(
        "get", "pods", "-n", namespace, "-o", "jsonpath={.items[*].spec.containers[0].image}"
    ).stdout.split()
    assert len(images) == REPLICAS and all(i.endswith(":v2") for i in images), images


def test_nodes_span_three_zones(cluster: Cluster) -> None:
    nodes = cluster.core.list_node().items
    zones = {n.metadata.labels.get("topology.kubernetes.io/zone") for n in nodes}
    assert len(zones - {None}) >= 3, f"nodes' zones: {sorted(map(str, zones))}"


class _Metrics(BaseHTTPRequestHandler):
    """Serves one gauge, the way a simulated-traffic source would publish its series."""

    body = b"# TYPE lab_smoke_probe gauge\nlab_smoke_probe 1\n"

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args: object) -> None:
        pass


def prometheus_series(url: str, query: str) -> list[dict[str, str]]:
    response = requests.get(f"{url}/api/v1/query", params={"query": query}, timeout=5)
    response.raise_for_status()
    return [r["metric"] for r in response.json()["data"]["result"]]


def test_lab_prometheus_extension_points(cluster: Cluster, namespace: str) -> None:
    """file_sd targets carry their labels; scrape.d jobs load on reload; simulated container
    restarts reach Prometheus through kube-state-metrics."""
    if cluster.provider != "lab" or cluster.prometheus_url is None:
        pytest.skip("the lab's own Prometheus only")
    url = cluster.prometheus_url
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Metrics)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    target = f"127.0.0.1:{server.server_address[1]}"
    file_sd = lab.prometheus_dir() / "file_sd" / f"{namespace}.json"
    scrape_d = lab.prometheus_dir() / "scrape.d" / f"{namespace}.yaml"
    labels = {"namespace": namespace, "pod": "probe-0", "rollouts_pod_template_hash": "abc123"}
    try:
        # Given: a target published through file_sd with the labels its series must carry
        file_sd.write_text(json.dumps([{"targets": [target], "labels": labels}]))
        # and a whole job through scrape.d
        scrape_d.write_text(
            f"- job_name: {namespace}\n  static_configs: [{{targets: ['{target}']}}]\n"
        )
        lab.reload_prometheus()
        # and a pod whose container "restarts" every second (the lab's kwok restart stage)
        cluster.kubectl(
            "run", "probe", "-n", namespace, "--image=localhost/sre-platform:probe",
            "--labels=lab.sre-platform.io/restart=true",
            "--annotations=lab.sre-platform.io/restart-every-ms=1000",
        )  # fmt: skip

        def series(query: str) -> Callable[[], str | None]:
            return lambda: None if prometheus_series(url, query) else "no series"

        # Then
        wait_until(
            series(f'lab_smoke_probe{{job="lab-file-sd",pod="probe-0",namespace="{namespace}",'
                   f'rollouts_pod_template_hash="abc123"}}'),
            "the file_sd target's series, with its labels, to be in Prometheus", 30,
        )  # fmt: skip
        wait_until(series(f'up{{job="{namespace}"}} == 1'), "the scrape.d job to be up", 30)
        wait_until(
            series(f'kube_pod_container_status_restarts_total{{namespace="{namespace}",'
                   f'pod="probe"}} >= 2'),
            "kube-state-metrics' count of the pod's restarts to be in Prometheus", 30,
        )  # fmt: skip
    finally:
        file_sd.unlink(missing_ok=True)
        scrape_d.unlink(missing_ok=True)
        lab.reload_prometheus()
        server.shutdown()
