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
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from fixtures.cluster import Cluster
from fixtures.core.helm import RenderRequest, helm_template
from fixtures.core.kube import load_manifest, wait_until
from fixtures.core.prometheus import Prometheus
from fixtures.core.rollout import API_VERSION, Rollout
from fixtures.core.tools import REPO_ROOT, tool_path
from fixtures.e2e.platform import Platform
from fixtures.e2e.recorder import RolloutRecorder
from fixtures.lab.layout import file_sd_path, prometheus_dir
from fixtures.lab.scrape_config import reload_prometheus

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
PROBE_IMAGE = "localhost/sre-platform:probe"  # never pulled: kwok runs no container
TIMEOUT = 90


def render_chart(namespace: str, image_tag: str, platform: Platform) -> list[dict[str, Any]]:
    """The chart with the platform's values (the lab's: helm/values-lab.yaml; kind's: the
    loaded image and a database), a short canary and no analysis steps."""
    platform.prepare_image(image_tag)
    own = tuple(f"{key}={json.dumps(value)}" for key, value in platform.values.items())
    return load_manifest(
        helm_template(
            RenderRequest(
                chart=REPO_ROOT / "helm",
                release=RELEASE,
                namespace=namespace,
                values=(platform.environment_values or REPO_ROOT / "helm" / "values-lab.yaml",),
                set_values=(f"image.tag={image_tag}", f"replicaCount={REPLICAS}"),
                set_json=(*own, f"rollouts.canary.steps={json.dumps(STEPS)}"),
            )
        )
    )


def rollout(cluster: Cluster, namespace: str) -> Rollout:
    path = f"/apis/{API_VERSION}/namespaces/{namespace}/rollouts/{ROLLOUT}"
    return Rollout(cluster.kube.get(path) or {"metadata": {"name": ROLLOUT}})


def expect_phase(cluster: Cluster, namespace: str, phase: str, **fields: Any) -> None:
    """Wait until the Rollout reports `phase` (and each status field has its value)."""
    __tracebackhide__ = True

    def check() -> str | None:
        status = rollout(cluster, namespace).status
        wanted = {"phase": phase, **fields}
        actual = {key: status.get(key) for key in wanted}
        if actual == wanted:
            return None
        return f"{actual} (message: {status.get('message', '')!r})"

    wait_until(check, f"rollout {namespace}/{ROLLOUT} to be {phase} {fields or ''}", TIMEOUT)


@pytest.fixture
def namespace(cluster: Cluster) -> Iterator[str]:
    with cluster.kube.temporary_namespace("smoke", keep=cluster.keep) as name:
        yield name


def test_rollout_walks_canary_steps(cluster: Cluster, namespace: str, platform: Platform) -> None:
    # Given: version v1 of the chart, applied and Healthy (on kind: real pods of the loaded
    # image tagged v1 and v2, with the session's database)
    platform.prepare_namespace(cluster, namespace)
    cluster.kube.apply(render_chart(namespace, "v1", platform), namespace=namespace)
    expect_phase(cluster, namespace, "Healthy", readyReplicas=REPLICAS)

    with RolloutRecorder(cluster, namespace, ROLLOUT) as recorder:
        # When: the image is updated to v2
        cluster.kube.apply(render_chart(namespace, "v2", platform), namespace=namespace)

        # Then: the controller stops at the indefinite pause with half the pods on v2
        expect_phase(
            cluster,
            namespace,
            "Paused",
            currentStepIndex=INDEFINITE_PAUSE,
            updatedReplicas=REPLICAS // 2,
        )
        assert rollout(cluster, namespace).pause_reasons == ["CanaryPauseStep"]

        # When: promoted with the Argo Rollouts CLI, as a person would
        promote = subprocess.run(
            [str(tool_path("kubectl-argo-rollouts")), "promote", ROLLOUT, "-n", namespace,
             f"--kubeconfig={cluster.kubeconfig}"],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert promote.returncode == 0, promote.stderr

        # Then: Healthy, every step done, v2 is the stable ReplicaSet
        expect_phase(cluster, namespace, "Healthy", currentStepIndex=len(STEPS))
        final = rollout(cluster, namespace)
        assert final.stable_hash == final.current_hash

    # v1 done (index 4), then v2 from step 0 through every step to done, never skipping one
    assert recorder.step_order() == [len(STEPS), *range(len(STEPS) + 1)], recorder.phases()
    assert (INDEFINITE_PAUSE, "Paused") in recorder.phases(), recorder.phases()

    def all_on_v2() -> str | None:
        # Real pods of v1 take their grace period to go; kwok's are gone at once.
        pods = cluster.kube.list(f"/api/v1/namespaces/{namespace}/pods")
        images = [p["spec"]["containers"][0]["image"] for p in pods]
        done = len(images) == REPLICAS and all(i.endswith(":v2") for i in images)
        return None if done else str(images)

    wait_until(all_on_v2, f"{REPLICAS} pods, all of v2", 30)


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


def test_lab_prometheus_extension_points(cluster: Cluster, namespace: str) -> None:
    """file_sd targets carry their labels; scrape.d jobs load on reload; simulated container
    restarts reach Prometheus through kube-state-metrics."""
    if cluster.provider != "lab" or cluster.prometheus_url is None:
        pytest.skip("the lab's own Prometheus only")
    prometheus = Prometheus(cluster.prometheus_url, timeout=5)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Metrics)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    target = f"127.0.0.1:{server.server_address[1]}"
    file_sd = file_sd_path(namespace)
    scrape_d = prometheus_dir() / "scrape.d" / f"{namespace}.yaml"
    labels = {"namespace": namespace, "pod": "probe-0", "rollouts_pod_template_hash": "abc123"}
    try:
        # Given: a target published through file_sd with the labels its series must carry
        file_sd.write_text(json.dumps([{"targets": [target], "labels": labels}]))
        # and a whole job through scrape.d
        scrape_d.write_text(
            f"- job_name: {namespace}\n  static_configs: [{{targets: ['{target}']}}]\n"
        )
        reload_prometheus()
        # and a pod whose container "restarts" every second (the lab's kwok restart stage)
        cluster.kube.create(
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {
                    "name": "probe",
                    "namespace": namespace,
                    "labels": {"run": "probe", "lab.sre-platform.io/restart": "true"},
                    "annotations": {"lab.sre-platform.io/restart-every-ms": "1000"},
                },
                "spec": {"containers": [{"name": "probe", "image": PROBE_IMAGE}]},
            }
        )

        def series(query: str) -> Callable[[], str | None]:
            return lambda: None if prometheus.query(query) else "no series"

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
        reload_prometheus()
        server.shutdown()
