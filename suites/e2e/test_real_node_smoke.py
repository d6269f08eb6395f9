"""Smoke test of the lab's real node: the service runs in real pods and serves real traffic.

Given the lab with its real node (kubelet + containerd on this host, `fixtures.node`), the
service image built from this repository's Dockerfile and imported into containerd, and
PostgreSQL and Redis listening on the node's address,
when this repository's chart (lab values, a plain Deployment, the real node's
nodeSelector and toleration) is applied and requests are sent to the Service's cluster IP,
then the pods run on the real node and become Ready through their real readiness probe,
kube-proxy spreads the requests over them, writes made through one pod are read through
the Service, and the lab's Prometheus scrapes every pod's /metrics, with the request
counts the service itself exported.

Selected with --real-node (or SRE_PLATFORM_REAL_NODE=1): the node needs root and takes
the machine's iptables and a bridge; without the option the test is skipped.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from fixtures.cluster import Cluster
from fixtures.core.helm import RenderRequest, helm_template
from fixtures.core.kube import load_manifest, wait_until
from fixtures.core.prometheus import Prometheus
from fixtures.core.tools import REPO_ROOT
from fixtures.e2e.real_node import real_node  # noqa: F401 - the session fixture
from fixtures.node.backing import BackingServices, backing_services
from fixtures.node.lifecycle import RealNode, pod_logs
from fixtures.node.network import service_endpoints

pytestmark = [pytest.mark.e2e, pytest.mark.real_node, pytest.mark.xdist_group("real-node")]

RELEASE = "real"
REPLICAS = 2
REQUESTS = 120
TIMEOUT = 120


def render_chart(namespace: str, values: dict[str, Any], tmp_path: Path) -> list[dict[str, Any]]:
    """The chart with the lab's values, as a Deployment on the real node."""
    overrides = tmp_path / "real-node-values.json"
    overrides.write_text(json.dumps(values))
    request = RenderRequest(
        chart=REPO_ROOT / "helm",
        release=RELEASE,
        namespace=namespace,
        values=(REPO_ROOT / "helm" / "values-lab.yaml", overrides),
        # The Secret below holds real URLs: a pod without it must not start.
        set_values=("rollouts.enabled=false", f"replicaCount={REPLICAS}",
                    "app.secretEnv.optional=false"),
    )  # fmt: skip
    return load_manifest(helm_template(request))


@pytest.fixture
def namespace(cluster: Cluster) -> Iterator[str]:
    # Deleted waiting until kubelet has stopped the pods: the next test finds the node idle.
    with cluster.kube.temporary_namespace("real-node", keep=cluster.keep, wait=60) as name:
        yield name


@pytest.fixture
def backing(cluster: Cluster, namespace: str) -> Iterator[BackingServices]:
    """PostgreSQL and Redis on the node's address, named by the chart's Secret."""
    with backing_services() as services:
        cluster.kube.create(services.secret(namespace))
        yield services


def pods(cluster: Cluster, namespace: str) -> list[dict[str, Any]]:
    return cluster.kube.list(
        f"/api/v1/namespaces/{namespace}/pods", "app.kubernetes.io/name=sre-platform"
    )


def diagnostics(cluster: Cluster, namespace: str) -> str:
    """Pods, events and each container's log (read from the node: the lab's API server
    cannot fetch kubelet logs yet, see docs/real-node.md)."""
    parts = [
        cluster.kubectl(
            "get", "pods,svc,endpointslices", "-n", namespace, "-o", "wide", check=False
        ).stdout,
        cluster.kubectl(
            "get", "events", "-n", namespace, "--sort-by=.lastTimestamp", check=False
        ).stdout[-4000:],
    ]
    for pod in pods(cluster, namespace):
        name = pod["metadata"]["name"]
        parts.append(f"--- log of {name}:\n{pod_logs(namespace, name)[-3000:]}")
    return "\n".join(parts)


def test_real_pods_serve_real_traffic_and_are_scraped(
    cluster: Cluster,
    real_node: RealNode,  # noqa: F811 - the fixture imported above
    namespace: str,
    backing: BackingServices,
    tmp_path: Path,
) -> None:
    assert cluster.prometheus_url is not None
    # Given: the chart, rendered for the real node with the locally built image, applied
    manifest = render_chart(namespace, real_node.chart_values(), tmp_path)
    cluster.kube.apply(manifest, namespace=namespace)

    def ready() -> str | None:
        items = pods(cluster, namespace)
        ready = [
            p
            for p in items
            if any(
                c["type"] == "Ready" and c["status"] == "True"
                for c in p.get("status", {}).get("conditions", [])
            )
        ]
        if len(ready) == REPLICAS and len(items) == REPLICAS:
            return None
        phases = [
            f"{p['metadata']['name']}: {p.get('status', {}).get('phase')} on "
            f"{p.get('spec', {}).get('nodeName')}"
            for p in items
        ]
        return f"{len(ready)} of {REPLICAS} Ready ({'; '.join(phases)})"

    try:
        wait_until(ready, f"{REPLICAS} sre-platform pods to be Ready on {real_node.name}", TIMEOUT)
    except TimeoutError:
        pytest.fail(f"pods not Ready:\n{diagnostics(cluster, namespace)}")

    # Then: they run on the real node, in containerd, with pod IPs of the node's network
    items = pods(cluster, namespace)
    assert {p["spec"]["nodeName"] for p in items} == {real_node.name}
    for pod in items:
        (status,) = pod["status"]["containerStatuses"]
        assert status["containerID"].startswith("containerd://"), status
        assert status["imageID"], status
        assert pod["status"]["podIP"].startswith(real_node.pod_cidr.rsplit(".", 2)[0]), pod
    names = {p["metadata"]["name"] for p in items}

    # When: requests go to the Service's cluster IP (kube-proxy's iptables rules)
    service = cluster.kube.get(
        f"/api/v1/namespaces/{namespace}/services/{RELEASE}-sre-platform"
    ) or {"spec": {}}
    base = f"http://{service['spec']['clusterIP']}:{service['spec']['ports'][0]['port']}"

    def answers() -> str | None:
        try:
            response = requests.get(f"{base}/readyz", timeout=2)
        except requests.RequestException as error:
            return f"not answering ({type(error).__name__})"
        return None if response.status_code == 200 else f"HTTP {response.status_code}"

    # kube-proxy programs the endpoints a moment after the pods turn Ready.
    wait_until(answers, f"the Service at {base} to answer", 30, interval=0.2)
    port = items[0]["spec"]["containers"][0]["ports"][0]["containerPort"]
    wanted = {f"{p['status']['podIP']}:{port}" for p in items}

    def routed() -> str | None:
        found = service_endpoints(namespace, f"{RELEASE}-sre-platform")
        return None if found == wanted else f"routed to {sorted(found)}"

    wait_until(routed, f"kube-proxy's rules to route to {sorted(wanted)}", 30, interval=0.2)
    created = []
    for i in range(REQUESTS // 2):
        # A fresh connection each time, so kube-proxy picks an endpoint per request.
        response = requests.post(
            f"{base}/api/v1/items",
            json={"name": f"item-{i}", "quantity": i},
            headers={"Connection": "close"},
            timeout=10,
        )
        assert response.status_code == 201, response.text
        created.append(response.json()["id"])
    for item_id in created:
        response = requests.get(
            f"{base}/api/v1/items/{item_id}", headers={"Connection": "close"}, timeout=10
        )
        # Then: every write is readable through the Service, whichever pod answers
        assert response.status_code == 200, response.text
    version = requests.get(f"{base}/version", timeout=10).json()
    assert real_node.chart_values()["image"]["tag"] in json.dumps(version), version

    # Then: Prometheus scrapes both pods (the node publishes their targets) and sees every request,
    # spread over both pods
    prometheus = Prometheus(cluster.prometheus_url, timeout=5)
    query = (
        f'sum by (pod) (http_requests_total{{job="lab-file-sd",namespace="{namespace}",'
        f'route=~"/api/.*"}})'
    )

    def scraped() -> str | None:
        counts = {r.labels["pod"]: r.value for r in prometheus.query(query)}
        if set(counts) == names and sum(counts.values()) >= REQUESTS and all(counts.values()):
            return None
        return f"per-pod API request counts {counts}"

    wait_until(scraped, "each pod's API requests to be in Prometheus", 60, interval=1)
    up = prometheus.query(f'up{{job="lab-file-sd",namespace="{namespace}"}}')
    assert {r.labels["pod"] for r in up} == names
    assert all(r.value == 1 for r in up), up
    labels = prometheus.query(f'sre_platform_build_info{{namespace="{namespace}"}}')
    assert {r.labels.get("app_kubernetes_io_instance") for r in labels} == {RELEASE}, labels
