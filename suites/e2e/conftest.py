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
from fixtures.core.processes import Users
from fixtures.core.prometheus import Prometheus
from fixtures.core.tools import REPO_ROOT
from fixtures.e2e import existing_platform, parallel, progress
from fixtures.e2e import judge as e2e_judge
from fixtures.e2e import real_node as real_node_plugin
from fixtures.e2e.platform import Platform
from fixtures.e2e.scenario import Scenario
from fixtures.gitops import argocd
from fixtures.lab.layout import lab_root
from fixtures.node.backing import backing_services
from fixtures.traffic import simulated, stages
from fixtures.traffic.load import ServiceLoad
from fixtures.traffic.simulated import TrafficProcess

REPORTS = REPO_ROOT / "reports"
FIGURES = REPORTS / "e2e-figures.json"
REAL_NODE_FIGURES = REPORTS / "e2e-real-node-figures.json"  # a --real-node session's
KIND_FIGURES = REPORTS / "e2e-kind-figures.json"  # a --cluster kind session's
EXISTING_FIGURES = REPORTS / "e2e-existing-figures.json"  # a --cluster existing session's
EVIDENCE = REPORTS / "e2e"


def pytest_addoption(parser: pytest.Parser, pluginmanager: pytest.PytestPluginManager) -> None:
    cluster_plugin.register(pluginmanager)
    real_node_plugin.register(pluginmanager)  # --real-node: scenarios on the lab's real node
    existing_platform.register(pluginmanager)  # --image-repository ...: an existing cluster's pods
    parallel.register(pluginmanager)  # -n N: the serial mark, groups, the lab's share lock
    progress.register(pluginmanager)  # the Given/When/Then steps live on the terminal
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
    e2e_judge.stop_started()  # the lab's local judge, if a scenario of this process started it
    if not _figures["scenarios"] or hasattr(session.config, "workerinput"):
        return  # an xdist worker: its figures went to the controller with its reports
    _figures["total_seconds"] = round(time.monotonic() - _figures.pop("t0"), 1)
    _figures["exit_status"] = int(exitstatus)
    REPORTS.mkdir(exist_ok=True)
    if _figures.get("cluster") == "kind":
        path = KIND_FIGURES
    elif _figures.get("cluster") == "existing":
        path = EXISTING_FIGURES
    elif real_node_plugin.real_node_enabled(session.config):
        path = REAL_NODE_FIGURES
    else:
        path = FIGURES
    path.write_text(json.dumps(_figures, indent=2) + "\n")


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    scenario = getattr(item, "funcargs", {}).get("scenario")
    if not isinstance(scenario, Scenario):
        return report
    figures: dict[str, Any] = {"namespace": scenario.namespace, **scenario.figures}
    if report.when == "call":
        figures.update(seconds=round(report.duration, 1), outcome=report.outcome)
    elif report.when == "teardown":  # also what fixtures recorded after the test (the load)
        figures["platform"] = scenario.platform.name
    # An attribute of the report travels with it from an xdist worker to the controller,
    # which writes the figures (pytest_runtest_logreport).
    report.e2e_figures = figures
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


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    # When each test ran and where (setup to teardown, wall clock): bench/bench-e2e shows
    # how busy each worker was and how long the serial tests held the lab alone.
    node = getattr(report, "node", None)  # the xdist worker, on the controller
    worker = node.gateway.id if node is not None else "main"
    timeline = _figures.setdefault("timeline", {})
    span = timeline.setdefault(parallel.plain_nodeid(report.nodeid), {"worker": worker})
    span["start"] = round(min(span.get("start", report.start), report.start), 2)
    span["stop"] = round(max(span.get("stop", report.stop), report.stop), 2)
    if report.when == "call":
        span["serial"] = "serial" in report.keywords
    figures = getattr(report, "e2e_figures", None)
    if figures is None:
        return
    entry = _figures["scenarios"].setdefault(parallel.plain_nodeid(report.nodeid), {})
    platform = figures.pop("platform", None)
    entry.update(figures)
    if platform is not None and "outcome" in entry:  # a scenario that ran
        entry["platform"] = platform


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
    # One exporter per pytest process (xdist worker), serving the namespaces it labelled;
    # the Stage is one per lab, deleted by its last user if a session created it.
    stage_users = Users(lab_root() / "exit-stage-users")
    token = stage_users.register()
    created = _exit_stage_uid(cluster) if stages.ensure_exit_stage(cluster.kube) else None
    process = simulated.start(
        f"e2e-{parallel.SESSION}",
        cluster.kubeconfig,
        cluster.context,
        namespace_selector=parallel.traffic_selector(),
    )
    prometheus = Prometheus(cluster.prometheus_url, timeout=5)
    try:
        with parallel.lab_share():  # not while a serial test has Prometheus stopped
            wait_until(
                lambda: prometheus.up(job="lab-file-sd", instance=process.address),
                f"the simulated traffic target {process.address} to be scraped by Prometheus",
                30,
            )
        yield process
    finally:
        process.stop()
        last = stage_users.release_last(token, created, _exit_stage_uid(cluster))
        if last and not cluster.keep:
            stages.delete_stage(cluster.kube)


def _exit_stage_uid(cluster: Cluster) -> str | None:
    path = cluster.kube.path(stages.STAGE_API, "Stage", name=stages.EXIT_STAGE_NAME)
    stage = cluster.kube.get(path)
    return None if stage is None else str(stage["metadata"]["uid"])


@pytest.fixture
def analysis(
    request: pytest.FixtureRequest, platform: Platform
) -> Iterator[TrafficProcess | ServiceLoad]:
    """What feeds the Prometheus analysis of a scenario: the simulated traffic on kwok
    nodes; on real pods (the real node, kind), real requests (wrk) through the release's
    Service, and through its preview Service while a blue-green release has one, from the
    moment each has a ready endpoint until the test ends."""
    if not platform.simulated_traffic:
        scenario: Scenario = request.getfixturevalue("scenario")
        load = platform.load(scenario.cluster, scenario.namespace, scenario.name)
        # The preview Service's clients (smoke tests, the pre-promotion analysis' traffic):
        # a canary release has none, and this load then never starts.
        preview = platform.load(scenario.cluster, scenario.namespace, f"{scenario.name}-preview")
        with load, preview:
            yield load
        scenario.record("load", load.summary())
        if preview.url is not None:
            scenario.record("preview_load", preview.summary())
        return
    simulated_traffic = request.getfixturevalue("simulated_traffic")
    if simulated_traffic is None:
        pytest.skip(
            "needs the lab's Prometheus fed by the simulated traffic (--cluster lab) or real "
            "pods (--cluster kind, --real-node, --cluster existing --image-repository ...)"
        )
    yield simulated_traffic


# ---- the lab's ArgoCD ----------------------------------------------------------------------


@pytest.fixture(scope="session")
def argocd_lab(cluster: Cluster) -> Iterator[argocd.ArgoCD]:
    """The lab's ArgoCD (controller, repo-server, Redis as lab processes), shared by every
    test and xdist worker that uses it: one starts it while the others wait on its lock;
    stopped, if a session started it, by the last one to finish."""
    if cluster.provider != "lab":
        pytest.skip(
            "the GitOps scenarios run ArgoCD as lab processes (docs/argocd-lab.md); on "
            f"{cluster.provider} ArgoCD runs as pods that cannot read a file:// repository"
        )
    users = Users(argocd.state_dir() / "users")
    token = users.register()  # before up: the last user out must count this one
    state = argocd.up(say=lambda line: None)
    started = _argocd_identity() if state.started else None
    try:
        yield state
    finally:
        if users.release_last(token, started, _argocd_identity()) and not cluster.keep:
            argocd.down(say=lambda line: None)


def _argocd_identity() -> str | None:
    record = argocd.supervisor().running("argocd-application-controller")
    return None if record is None else f"{record.pid}-{record.starttime}"


# ---- one namespace per scenario ----------------------------------------------------------


def _namespace_name(test_name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", test_name.lower().removeprefix("test_")).strip("-")
    return f"e2e-{slug[:40].rstrip('-')}-{uuid.uuid4().hex[:4]}"


@pytest.fixture(scope="session")
def platform(request: pytest.FixtureRequest, cluster: Cluster) -> Platform:
    """The lab's kwok nodes; with --real-node the lab's real node (brought up for the
    session, with PostgreSQL and Redis for its pods); on --cluster kind the kind cluster's
    nodes (PostgreSQL and Redis for the session at the kind network's gateway); on
    --cluster existing with --image-repository that cluster's nodes."""
    _figures["cluster"] = cluster.provider
    if cluster.provider == "kind":
        return request.getfixturevalue("kind_platform")
    if cluster.provider == "existing" and existing_platform.options(request.config):
        return request.getfixturevalue("existing_cluster_platform")
    if not real_node_plugin.real_node_enabled(request.config):
        return Platform()
    node = request.getfixturevalue("real_node")
    services = request.getfixturevalue("real_node_services")
    return real_node_plugin.RealNodePlatform(node, services)


@pytest.fixture(scope="session")
def kind_platform(cluster: Cluster) -> Iterator[Platform]:
    """Every scenario on the kind cluster (fixtures.e2e.kind_platform)."""
    from fixtures.e2e.kind_platform import KindPlatform
    from fixtures.kind import cluster as kind_cluster
    from fixtures.kind import docker

    running = kind_cluster.current()
    if running is None:
        pytest.exit(f"{kind_cluster.status_path()} is missing: not from kind up", returncode=69)
    with backing_services(address=docker.GATEWAY, clients=docker.SUBNET) as services:
        yield KindPlatform(running, services)


@pytest.fixture(scope="session")
def existing_cluster_platform(
    pytestconfig: pytest.Config, cluster: Cluster
) -> Iterator[existing_platform.ExistingPlatform]:
    """Every scenario on an existing cluster's pods (fixtures.e2e.existing_platform)."""
    chosen = existing_platform.options(pytestconfig)
    assert chosen is not None  # the platform fixture asked
    node = chosen.node_address or existing_platform.first_node_address(cluster)
    with backing_services(address=chosen.host_address, clients=chosen.pods_from) as services:
        yield existing_platform.ExistingPlatform(chosen, services, node)


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
    marker = platform.only_marked
    if marker is not None and request.node.get_closest_marker(marker) is None:
        pytest.skip(f"runs on the lab's simulated nodes only, not on {platform.name}")
    namespace = _namespace_name(request.node.name)
    labels = parallel.traffic_labels()
    if not platform.simulated_traffic:
        labels.pop(parallel.TRAFFIC_LABEL)
    cluster.kube.ensure_namespace(namespace, labels)
    platform.prepare_namespace(cluster, namespace)
    yield Scenario(cluster, namespace, values=copy.deepcopy(scenario_values), platform=platform)
    if cluster.keep:
        return
    cluster.kube.delete_namespace(namespace)
