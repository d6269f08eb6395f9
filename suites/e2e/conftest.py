"""The e2e tier: tests against a real Kubernetes API (the offline lab by default).

The cluster provider (`--cluster lab|kind|existing`, the `cluster` fixture) is the shared
plugin fixtures/cluster.py; suites/validate registers the same plugin, once per session.

What this conftest adds for the scenarios (docs/e2e.md):
- `scenario`: a fresh namespace per test (labelled so the simulated traffic serves it), a
  `fixtures.e2e.scenario.Scenario` bound to it; the namespace is deleted afterwards unless
  `--keep-cluster`. When the test fails, the rollout, analysis runs, ReplicaSets, pods,
  Services, events, the `kubectl argo rollouts get` tree, the controller's log tail and
  the Given/When/Then log are attached to the report and written to reports/e2e/<ns>/.
- `simulated_traffic` (session): fixtures.traffic's exporter for every e2e namespace,
  published to the lab's Prometheus, plus the kwok Stage that simulates container exits.
- `platform` (session): where the scenarios' pods run. The lab's kwok nodes by default;
  with `--real-node` the lab's real node (`fixtures.e2e.real_node.RealNodePlatform`), where
  only the scenarios marked `real_node` run (the others skip, saying so) and `analysis` is
  real load (fixtures.traffic.load: wrk through the release's Service) instead of the
  simulated traffic.
- figures: each scenario's duration and what it recorded (abort times) go to
  reports/e2e-figures.json (a --real-node session: reports/e2e-real-node-figures.json),
  which bench/bench-e2e prints.
"""

from __future__ import annotations

import copy
import json
import os
import re
import time
import uuid
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from fixtures import cluster as cluster_plugin
from fixtures.cluster import Cluster
from fixtures.core.helm import deep_merge
from fixtures.core.kube import wait_until
from fixtures.core.prometheus import Prometheus
from fixtures.core.tools import REPO_ROOT
from fixtures.e2e import judge as e2e_judge
from fixtures.e2e import real_node as real_node_plugin
from fixtures.e2e.platform import Platform
from fixtures.e2e.scenario import Scenario
from fixtures.traffic import simulated, stages
from fixtures.traffic.load import ServiceLoad
from fixtures.traffic.simulated import TrafficProcess

NAMESPACE_LABEL = "sre-platform.io/e2e"
TRAFFIC_LABEL = "sre-platform.io/simulated-traffic"
REPORTS = REPO_ROOT / "reports"
FIGURES = REPORTS / "e2e-figures.json"
REAL_NODE_FIGURES = REPORTS / "e2e-real-node-figures.json"  # a --real-node session's
EVIDENCE = REPORTS / "e2e"


def pytest_addoption(parser: pytest.Parser, pluginmanager: pytest.PytestPluginManager) -> None:
    cluster_plugin.register(pluginmanager)
    real_node_plugin.register(pluginmanager)  # --real-node: scenarios on the lab's real node
    group = parser.getgroup("e2e", "the e2e scenarios")
    group.addoption(
        "--e2e-values",
        dest="e2e_values",
        action="append",
        default=None,
        metavar="FILE",
        help="extra helm values for every scenario, on top of helm/values-lab.yaml "
        "(repeatable; e.g. the real node's placement, or a broken analysis to prove the "
        "scenarios catch it). ini: e2e_values; env: SRE_PLATFORM_E2E_VALUES (os.pathsep list)",
    )
    parser.addini("e2e_values", "extra helm values files for every scenario", type="paths")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "real_node: a scenario that also runs on the lab's real node; with --real-node only "
        "these run (select them with -m real_node)",
    )


def _e2e_values_files(config: pytest.Config) -> list[Path]:
    """--e2e-values, else $SRE_PLATFORM_E2E_VALUES, else the ini key (cli > env > ini, as
    every option of the project)."""
    cli = config.getoption("e2e_values")
    if cli:
        return [Path(p) for p in cli]
    env = os.environ.get("SRE_PLATFORM_E2E_VALUES", "")
    if env:
        return [Path(p) for p in env.split(os.pathsep) if p]
    return [Path(p) for p in config.getini("e2e_values")]


# ---- figures ---------------------------------------------------------------------------

_figures: dict[str, Any] = {"scenarios": {}}


def pytest_sessionstart(session: pytest.Session) -> None:
    _figures["started"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    _figures["t0"] = time.monotonic()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    e2e_judge.stop_started()  # the lab's local judge, if a scenario of this session started it
    if not _figures["scenarios"]:
        return
    _figures["total_seconds"] = round(time.monotonic() - _figures.pop("t0"), 1)
    _figures["exit_status"] = int(exitstatus)
    REPORTS.mkdir(exist_ok=True)
    real = real_node_plugin.real_node_enabled(session.config)
    (REAL_NODE_FIGURES if real else FIGURES).write_text(json.dumps(_figures, indent=2) + "\n")


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    scenario = getattr(item, "funcargs", {}).get("scenario")
    if not isinstance(scenario, Scenario):
        return report
    entry = _figures["scenarios"].setdefault(item.nodeid, {"namespace": scenario.namespace})
    if report.when == "call":
        entry.update(seconds=round(report.duration, 1), outcome=report.outcome)
        entry.update(scenario.figures)
    elif report.when == "teardown":
        entry.update(scenario.figures)  # what fixtures recorded after the test (the load)
        if "outcome" in entry:
            entry["platform"] = scenario.platform.name
    if report.failed:
        # Argo Rollouts' AfterTest / chainsaw's catch: the evidence goes with the failure.
        evidence = _safe_evidence(scenario)
        folder = EVIDENCE / scenario.namespace
        folder.mkdir(parents=True, exist_ok=True)
        for name, text in evidence.items():
            (folder / name).write_text(text)
            report.sections.append((f"evidence: {name}", text[-20000:]))
        report.sections.append(("evidence: saved in", str(folder)))
    return report


def _safe_evidence(scenario: Scenario) -> dict[str, str]:
    try:
        return scenario.evidence()
    except Exception as error:  # evidence must never hide the failure it explains
        return {"evidence-error.txt": f"collecting evidence failed: {error!r}"}


# ---- simulated traffic -----------------------------------------------------------------


@pytest.fixture(scope="session")
def simulated_traffic(cluster: Cluster) -> Iterator[TrafficProcess | None]:
    """SIMULATED traffic for every e2e namespace, scraped by the lab's Prometheus.

    None where the tier has no Prometheus to feed (kind, existing clusters): scenarios that
    need analysis skip there, saying so.
    """
    if cluster.provider != "lab" or cluster.prometheus_url is None:
        yield None
        return
    created_stage = stages.ensure_exit_stage(cluster.kube)
    process = simulated.start(
        f"e2e-{uuid.uuid4().hex[:6]}",
        cluster.kubeconfig,
        cluster.context,
        namespace_selector=f"{TRAFFIC_LABEL}=true",
    )
    prometheus = Prometheus(cluster.prometheus_url, timeout=5)
    try:
        wait_until(
            lambda: prometheus.up(job="lab-file-sd", instance=process.address),
            f"the simulated traffic target {process.address} to be scraped by Prometheus",
            30,
        )
        yield process
    finally:
        process.stop()
        if created_stage and not cluster.keep:
            stages.delete_stage(cluster.kube)


@pytest.fixture
def analysis(
    request: pytest.FixtureRequest, platform: Platform
) -> Iterator[TrafficProcess | ServiceLoad]:
    """What feeds the Prometheus analysis of a scenario: the simulated traffic on kwok
    nodes; on the real node, real requests (wrk) through the release's Service from the
    moment it has a ready endpoint until the test ends."""
    if not platform.simulated_traffic:
        scenario: Scenario = request.getfixturevalue("scenario")
        load = ServiceLoad.for_service(scenario.cluster.kube, scenario.namespace, scenario.name)
        with load:
            yield load
        scenario.record("load", load.summary())
        return
    simulated_traffic = request.getfixturevalue("simulated_traffic")
    if simulated_traffic is None:
        pytest.skip(
            "needs the lab's Prometheus fed by the simulated traffic (--cluster lab); on kind "
            "the analysis has no Prometheus yet (docs/e2e.md, 'Other clusters')"
        )
    yield simulated_traffic


# ---- one namespace per scenario ----------------------------------------------------------


def _namespace_name(test_name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", test_name.lower().removeprefix("test_")).strip("-")
    return f"e2e-{slug[:40].rstrip('-')}-{uuid.uuid4().hex[:4]}"


@pytest.fixture(scope="session")
def platform(request: pytest.FixtureRequest) -> Platform:
    """The lab's kwok nodes, or with --real-node the lab's real node (brought up for the
    session, with PostgreSQL and Redis for its pods)."""
    if not real_node_plugin.real_node_enabled(request.config):
        return Platform()
    node = request.getfixturevalue("real_node")
    services = request.getfixturevalue("real_node_services")
    return real_node_plugin.RealNodePlatform(node, services)


@pytest.fixture(scope="session")
def scenario_values(pytestconfig: pytest.Config, platform: Platform) -> dict[str, Any]:
    """Values every scenario starts from, on top of its platform's environment values
    (helm/values-lab.yaml; on the real node helm/values-lab-real-node.yaml): the platform's
    own, then those of `--e2e-values` files. The canary scenarios derive their expectations
    (replicas, steps, weights, interval) from the resulting values."""
    values: dict[str, Any] = deep_merge({}, platform.values)
    for path in _e2e_values_files(pytestconfig):
        if not path.is_file():
            raise pytest.UsageError(f"--e2e-values: {path} does not exist")
        values = deep_merge(values, yaml.safe_load(path.read_text()) or {})
    return values


@pytest.fixture
def scenario(
    request: pytest.FixtureRequest,
    cluster: Cluster,
    scenario_values: dict[str, Any],
    platform: Platform,
) -> Iterator[Scenario]:
    """A Scenario in a namespace of its own on the session's platform, deleted afterwards
    unless --keep-cluster."""
    if not platform.simulated_traffic and request.node.get_closest_marker("real_node") is None:
        pytest.skip(f"runs on the lab's simulated nodes only, not on {platform.name}")
    namespace = _namespace_name(request.node.name)
    labels = {NAMESPACE_LABEL: "true"}
    if platform.simulated_traffic:
        labels[TRAFFIC_LABEL] = "true"
    cluster.kube.ensure_namespace(namespace, labels)
    platform.prepare_namespace(cluster, namespace)
    yield Scenario(cluster, namespace, values=copy.deepcopy(scenario_values), platform=platform)
    if cluster.keep:
        return
    cluster.kube.delete_namespace(namespace)
