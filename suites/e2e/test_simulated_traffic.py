"""The SIMULATED traffic source is faithful to the service it stands in for.

The canary scenarios are only as good as the series they are judged on. On kwok nodes no
container runs, so fixtures.traffic serves the service's series for every pod; these
tests hold it to the real thing:

1. the names, types, label names, bucket bounds and route templates it exports are exactly
   those of the real service's `/metrics` (the app started in-process, as app/tests do);
2. in the lab, the chart's own AnalysisTemplate queries, run against the lab's Prometheus,
   see the error rate and latency written in the pods' `FAULT_*` env, and the restarts
   that `FAULT_EXIT_AFTER_SECONDS` causes (the kwok Stage, through kube-state-metrics);
3. it stands in only where no process runs: pods on the lab's real node are left out.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

import sre_platform.api
from fixtures.core.kube import wait_until
from fixtures.core.prometheus import Prometheus
from fixtures.core.rollout import API_VERSION
from fixtures.e2e.plan import fault_env
from fixtures.e2e.scenario import Scenario
from fixtures.traffic import model as traffic
from fixtures.traffic.simulated import TrafficProcess
from fixtures.traffic.watcher import PodWatcher
from sre_platform.app import create_app
from sre_platform.config import Settings
from sre_platform.database import DatabaseUnavailable

pytestmark = pytest.mark.e2e

FAMILIES = (
    traffic.REQUESTS_FAMILY.name,
    traffic.DURATION_FAMILY.name,
    traffic.BUILD_INFO_FAMILY.name,
)
POD_LABELS = {
    "app.kubernetes.io/name": "sre-platform",
    "app.kubernetes.io/instance": "sre-platform",
    "rollouts-pod-template-hash": "5d8c9b7f6",
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@asynccontextmanager
async def _database_down(*args: Any, **kwargs: Any) -> AsyncIterator[Any]:
    raise DatabaseUnavailable("PostgreSQL is not there (test double)")
    yield  # pragma: no cover - makes this an async generator


@pytest.fixture(scope="module")
def real_app() -> Iterator[tuple[TestClient, Any]]:
    """The real service with its backends unreachable: every route still answers (503s),
    which is all that /metrics needs to show its series. The API's connection helper fails
    at once instead of after the pool's acquire timeout; the HTTP and metrics layers are
    the service's own."""
    port = _free_port()
    settings = Settings(
        database_url=f"postgresql://postgres@127.0.0.1:{port}/sre_platform",
        redis_url=f"redis://127.0.0.1:{port}/0",
        app_version="1.2.3",
        git_sha="abc1234",
    )
    app = create_app(settings)
    with (
        pytest.MonkeyPatch.context() as patch,
        TestClient(app, raise_server_exceptions=False) as client,
    ):
        patch.setattr(sre_platform.api, "connection", _database_down)
        yield client, app


def _families(text: str) -> dict[str, Any]:
    return {f.name: f for f in text_string_to_metric_families(text) if f.name in FAMILIES}


def _shape(family: Any, ignore: set[str]) -> dict[str, set[frozenset[str]]]:
    """sample name -> the label-name sets its samples carry (without `ignore`)."""
    shape: dict[str, set[frozenset[str]]] = {}
    for sample in family.samples:
        shape.setdefault(sample.name, set()).add(frozenset(set(sample.labels) - ignore))
    return shape


def test_simulated_series_match_the_real_services_metrics(
    real_app: tuple[TestClient, Any],
) -> None:
    client, app = real_app
    # Given: the real service, having answered a request on every route it documents
    for template, operations in app.openapi()["paths"].items():
        for method in operations:
            path = template.replace("{item_id}", "1")
            client.request(method.upper(), path, json={"name": "x", "quantity": 1})
    real = _families(client.get("/metrics").text)
    # and the simulated traffic for one pod, having served for a while
    model = traffic.TrafficModel()
    view = traffic.PodSpecView(
        namespace="ns", name="sre-platform-5d8c9b7f6-abcde", uid="u1", labels=POD_LABELS,
        env={"APP_VERSION": "1.2.3", "GIT_SHA": "abc1234", "FAULT_ERROR_RATE": "0.5"},
        serving=True, running=True, restart_count=0, liveness_period=10, readiness_period=5,
    )  # fmt: skip
    model.upsert(view, now=0.0)
    model.advance(now=60.0, scrape=True)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(model)
    simulated = _families(generate_latest(registry).decode())

    # Then: the same families, of the same types, with the same samples and label names
    # (the simulated ones add only what a Kubernetes scrape adds: namespace, pod, pod labels)
    assert sorted(simulated) == sorted(real) == sorted(FAMILIES)
    scrape_labels = {"namespace", "pod", *map(traffic.prometheus_label_name, POD_LABELS)}
    for name in FAMILIES:
        assert simulated[name].type == real[name].type, name
        assert simulated[name].documentation == real[name].documentation, name
        assert _shape(simulated[name], scrape_labels) == _shape(real[name], set()), name
    # and every simulated series carries the labels the analysis selects by
    for name in FAMILIES:
        for sample in simulated[name].samples:
            assert sample.labels["namespace"] == "ns"
            assert sample.labels["rollouts_pod_template_hash"] == "5d8c9b7f6"

    # and the histogram's bucket bounds are the service's own
    def bounds(family: Any) -> set[str]:
        return {s.labels["le"] for s in family.samples if s.name.endswith("_bucket")}

    duration = traffic.DURATION_FAMILY.name
    assert bounds(simulated[duration]) == bounds(real[duration])
    # and each simulated (method, route) is a route the service really has, as it names it
    real_routes = {
        (s.labels["method"], s.labels["route"]) for s in real[traffic.REQUESTS_FAMILY.name].samples
    }
    for r in traffic.API_ROUTES:
        assert (r.method, r.route) in real_routes, f"{r.method} {r.route} is not a real route"


def _rendered_queries(scenario: Scenario, latest_hash: str) -> dict[str, str]:
    """The chart's AnalysisTemplate queries as the controller would run them for the hash."""
    queries = {}
    templates = scenario.cluster.kube.list(
        f"/apis/{API_VERSION}/namespaces/{scenario.namespace}/analysistemplates"
    )
    for template in templates:
        for metric in template["spec"]["metrics"]:
            query = metric["provider"]["prometheus"]["query"]
            for arg, value in {
                "namespace": scenario.namespace,
                "latest-hash": latest_hash,
                "rollout-name": scenario.name,
            }.items():
                query = query.replace(f"{{{{args.{arg}}}}}", value)
            queries[metric["name"]] = query
    return queries


class _Nodes:
    """CoreV1Api.read_node of a lab with kwok's nodes and the real node."""

    def __init__(self) -> None:
        self.reads: list[str] = []

    def read_node(self, name: str) -> Any:
        from types import SimpleNamespace

        self.reads.append(name)
        annotations = {"kwok.x-k8s.io/node": "fake"} if name.startswith("kwok-") else {}
        return SimpleNamespace(metadata=SimpleNamespace(annotations=annotations))


def test_pods_on_a_real_node_are_not_simulated() -> None:
    """A pod on the lab's real node serves its own /metrics: the simulation must leave it
    out, or its series would be doubled (and a real bad canary hidden by simulated good
    numbers)."""
    watcher = PodWatcher(None, traffic.TrafficModel(), namespaces=["ns"])
    nodes = _Nodes()
    watcher.core = nodes

    def view(node: str, namespace: str = "ns") -> traffic.PodSpecView:
        return traffic.PodSpecView(
            namespace=namespace, name="p", uid="u", labels=POD_LABELS, env={}, serving=True,
            running=True, restart_count=0, liveness_period=10, readiness_period=5,
            node_name=node,
        )  # fmt: skip

    assert watcher._wanted(view("kwok-zone-a"))
    assert not watcher._wanted(view("real-node"))
    assert watcher._wanted(view(""))  # not scheduled yet: serves nothing until Running
    assert not watcher._wanted(view("kwok-zone-a", namespace="other"))
    assert watcher._wanted(view("kwok-zone-a")) and not watcher._wanted(view("real-node"))
    assert nodes.reads == ["kwok-zone-a", "real-node"]  # each node read once


@pytest.mark.slow
def test_fault_env_drives_what_the_charts_queries_see(
    scenario: Scenario, analysis: TrafficProcess
) -> None:
    if not isinstance(analysis, TrafficProcess):  # real pods feed the analysis themselves
        pytest.skip(f"the simulated traffic's fidelity; {scenario.platform.name} run real pods")
    prometheus = Prometheus(str(scenario.cluster.prometheus_url), timeout=5)
    with scenario.given("the chart installed with 25% errors, 700 ms latency and exits every 3 s"):
        scenario.install(
            "faulty",
            replicaCount=2,
            extraEnv=fault_env(error_rate=0.25, latency_ms=700, exit_after_seconds=3),
        )
        pod_hash = str(scenario.rollout().current_hash)
        queries = _rendered_queries(scenario, pod_hash)
    assert sorted(queries) == ["latency-p99", "restarts", "success-rate"]

    with scenario.then("the chart's success-rate query sees about 75% success"):
        seen: dict[str, float | None] = {}

        def success_rate() -> str | None:
            seen["v"] = prometheus.value(queries["success-rate"])
            return None if seen["v"] is not None else "no data"

        wait_until(success_rate, "the success rate to have data", 30)
        assert seen["v"] == pytest.approx(0.75, abs=0.03)
    with scenario.and_("the latency query sees a p99 above the 500 ms threshold"):
        p99 = prometheus.value(queries["latency-p99"])
        assert p99 is not None and 0.7 < p99 <= 0.75, p99
    with scenario.and_("the restarts query sees the simulated container exits"):

        def restarted() -> str | None:
            value = prometheus.value(queries["restarts"])
            return None if value is not None and value >= 2 else f"restarts {value}"

        wait_until(restarted, "kube-state-metrics to report restarts of the new pods", 30)
    with scenario.and_("the exporter restarted the pod's counters, as a restarted process"):
        pods = [p for p in analysis.pods() if p["namespace"] == scenario.namespace]
        assert len(pods) == 2 and all(p["restarts"] >= 1 for p in pods), pods
