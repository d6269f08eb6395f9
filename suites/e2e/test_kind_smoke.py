"""Smoke test of the kind cluster: real nodes and real pods, on this machine, offline.

Given the kind cluster of `--cluster kind` (fixtures.kind: one control plane and three
workers in three zones, every image built here; Argo Rollouts, kube-state-metrics and
Prometheus installed), and PostgreSQL and Redis on this host at the kind network's gateway,
when the service image built from this repository's Dockerfile is deployed with this
repository's chart (a plain Deployment on the workers),
then its pods run and answer /healthz through their Service, Prometheus scrapes them, and
the Argo Rollouts controller is Ready.

Host-level facts, by testinfra: on every node (docker backend) containerd and kubelet are
active units and containerd fits the node's capabilities; on this host (local backend) our
dockerd is confined and runs the runc wrapper exactly where a capability is missing; after
`kind-down` nothing of ours is left (the last test of the session, and only when this
session created the cluster: tearing down is the creator's call).

Selected with `--cluster kind`; on other clusters the module is skipped, saying so.
"""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
import testinfra  # type: ignore[import-untyped]

from fixtures.cluster import Cluster
from fixtures.core.kube import wait_until
from fixtures.core.tools import REPO_ROOT, tool_path, tool_version
from fixtures.kind import cluster as kind_cluster
from fixtures.kind import docker, kind_root
from fixtures.kind import nodes as kind_nodes
from fixtures.node.backing import BackingServices, backing_services

# One worker under pytest-xdist: its last test takes the kind cluster down.
pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("kind")]

RELEASE = "kind-smoke"
MONITORING_NAMESPACE = {"kubernetes.io/metadata.name": "monitoring"}
REPLICAS = 2
TIMEOUT = 180


@dataclass(frozen=True)
class Kind:
    cluster: Cluster
    engine: docker.Engine
    nodes: list[str]
    up: kind_cluster.KindCluster


@pytest.fixture(scope="module")
def kind(cluster: Cluster) -> Kind:
    if cluster.provider != "kind":
        pytest.skip("the kind cluster's own smoke test: run with --cluster kind")
    engine = docker.find()
    running = kind_cluster.current()
    assert engine is not None, "no Docker engine answers, yet the kind cluster is up"
    assert running is not None, f"{kind_cluster.status_path()} is missing: not from kind up"
    return Kind(cluster, engine, kind_nodes.node_names(engine), running)


def _ready(conditions: list[Any]) -> bool:
    return any(c.type == "Ready" and c.status == "True" for c in conditions or [])


def test_nodes_ready_in_three_zones(kind: Kind) -> None:
    nodes = kind.cluster.core.list_node().items
    assert sorted(n.metadata.name for n in nodes) == kind.nodes
    assert len(nodes) == 4, [n.metadata.name for n in nodes]
    assert all(_ready(n.status.conditions) for n in nodes), [
        (n.metadata.name, [(c.type, c.status) for c in n.status.conditions]) for n in nodes
    ]
    workers = [n for n in nodes if "node-role.kubernetes.io/control-plane" not in n.metadata.labels]
    zones = sorted(n.metadata.labels.get("topology.kubernetes.io/zone") for n in workers)
    assert zones == ["zone-a", "zone-b", "zone-c"], zones
    for node in nodes:
        info = node.status.node_info
        if kind.up.node_image.startswith("localhost/"):  # ours: the pinned build
            assert info.kubelet_version == tool_version("kubernetes"), info
        assert info.container_runtime_version.startswith("containerd://"), info


def test_system_pods_run_from_preloaded_images(kind: Kind) -> None:
    """CoreDNS, kube-proxy, the CNI daemon and the control plane: all Running and Ready,
    none of their images pulled (nothing could be)."""
    pods = kind.cluster.core.list_namespaced_pod("kube-system").items
    apps = sorted(
        {p.metadata.labels.get("k8s-app") or p.metadata.labels.get("component") for p in pods}
    )
    wanted = ["etcd", "kindnet", "kube-apiserver", "kube-controller-manager", "kube-dns"]
    wanted += ["kube-proxy", "kube-scheduler"]
    assert apps == wanted, apps
    not_ready = [(p.metadata.name, p.status.phase) for p in pods if not _ready(p.status.conditions)]
    assert not not_ready, not_ready
    events = kind.cluster.core.list_namespaced_event("kube-system").items
    pulls = [e.message for e in events if e.reason in ("Pulling", "ErrImagePull")]
    assert not pulls, pulls


def test_rollouts_controller_ready(kind: Kind) -> None:
    deployment = kind.cluster.apps.read_namespaced_deployment("argo-rollouts", "argo-rollouts")
    assert (deployment.status.ready_replicas or 0) == 1, deployment.status
    (container,) = deployment.spec.template.spec.containers
    assert container.image == f"localhost/argo-rollouts:{tool_version('argo-rollouts')}"
    crds = kind.cluster.kubectl("get", "crd", "rollouts.argoproj.io", "-o", "json").stdout
    conditions = json.loads(crds)["status"]["conditions"]
    assert {"type": "Established", "status": "True"} in [
        {"type": c["type"], "status": c["status"]} for c in conditions
    ]


# ---- the service ------------------------------------------------------------------------


@pytest.fixture
def namespace(kind: Kind) -> Iterator[str]:
    name = f"kind-smoke-{uuid.uuid4().hex[:6]}"
    kind.cluster.kubectl("create", "namespace", name)
    yield name
    if not kind.cluster.keep:
        kind.cluster.kubectl("delete", "namespace", name, "--timeout=60s", check=False)


@pytest.fixture
def backing(kind: Kind, namespace: str) -> Iterator[BackingServices]:
    """PostgreSQL and Redis on this host at the kind network's gateway, for the pods."""
    with backing_services(address=docker.GATEWAY, clients=docker.SUBNET) as services:
        kind.cluster.kubectl(
            "create", "secret", "generic", "sre-platform-env", "-n", namespace,
            f"--from-literal=DATABASE_URL={services.database_url}",
            f"--from-literal=REDIS_URL={services.redis_url}",
        )  # fmt: skip
        yield services


def chart_values(image: str, services: BackingServices) -> dict[str, Any]:
    """The chart on kind: the service image loaded by fixtures.kind, a real database, the
    NetworkPolicy opened exactly for it, the nodes (kube-proxy) and Prometheus."""
    repository, _, tag = image.rpartition(":")
    ports = [
        {"port": int(url.rsplit(":", 1)[1].split("/")[0]), "protocol": "TCP"}
        for url in (services.database_url, services.redis_url)
    ]
    return {
        "image": {"repository": repository, "tag": tag, "pullPolicy": "IfNotPresent"},
        "replicaCount": REPLICAS,
        "rollouts": {"enabled": False},
        "app": {"secretEnv": {"optional": False}},
        "resources": {"limits": {"cpu": "1"}},
        "networkPolicy": {
            "egress": [{"to": [{"ipBlock": {"cidr": f"{docker.GATEWAY}/32"}}], "ports": ports}],
            "ingressFrom": [{"ipBlock": {"cidr": docker.SUBNET}}],
            "metricsFrom": [
                {
                    "namespaceSelector": {
                        "matchLabels": {"kubernetes.io/metadata.name": "monitoring"}
                    }
                }
            ],
        },
    }


def render_chart(namespace: str, values: dict[str, Any], tmp_path: Path) -> str:
    overrides = tmp_path / "kind-values.json"
    overrides.write_text(json.dumps(values))
    result = subprocess.run(
        [str(tool_path("helm")), "template", RELEASE, str(REPO_ROOT / "helm"),
         "--namespace", namespace, "-f", str(REPO_ROOT / "helm" / "values-lab.yaml"),
         "-f", str(overrides)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, f"helm template failed: {result.stderr.strip()}"
    return result.stdout


def prometheus_query(url: str, query: str) -> list[dict[str, Any]]:
    response = requests.get(f"{url}/api/v1/query", params={"query": query}, timeout=5)
    response.raise_for_status()
    result: list[dict[str, Any]] = response.json()["data"]["result"]
    return result


def test_service_answers_through_its_service_and_is_scraped(
    kind: Kind, namespace: str, backing: BackingServices, tmp_path: Path
) -> None:
    # Given: the chart with the service image that fixtures.kind loaded onto the nodes
    image = kind.up.service_image
    manifest = render_chart(namespace, chart_values(image, backing), tmp_path)
    kind.cluster.kubectl("apply", "-n", namespace, "-f", "-", input=manifest)
    selector = "app.kubernetes.io/name=sre-platform"

    def running() -> str | None:
        pods = kind.cluster.core.list_namespaced_pod(namespace, label_selector=selector).items
        ready = [p for p in pods if p.status.phase == "Running" and _ready(p.status.conditions)]
        if len(ready) == REPLICAS == len(pods):
            return None
        return "; ".join(f"{p.metadata.name} {p.status.phase}" for p in pods) or "no pods"

    try:
        wait_until(running, f"{REPLICAS} pods of {image} to be Running and Ready", TIMEOUT)
    except TimeoutError:
        events = kind.cluster.kubectl("get", "events", "-n", namespace, check=False).stdout
        pytest.fail(f"pods not Ready:\n{events[-4000:]}")
    pods = kind.cluster.core.list_namespaced_pod(namespace, label_selector=selector).items
    assert {p.spec.containers[0].image for p in pods} == {image}
    assert all(p.spec.node_name in kind.nodes for p in pods)

    # When: /healthz is asked through the Service's cluster IP, from the control-plane node
    # (kube-proxy there; the pods run on the workers: the CNI routes between nodes)
    service = kind.cluster.core.read_namespaced_service(f"{RELEASE}-sre-platform", namespace)
    url = f"http://{service.spec.cluster_ip}:{service.spec.ports[0].port}/healthz"
    control_plane = next(n for n in kind.nodes if n.endswith("control-plane"))

    def answers() -> str | None:
        result = kind.engine.docker(
            "exec", control_plane, "curl", "-sS", "--max-time", "3", url, check=False
        )
        if result.returncode == 0 and json.loads(result.stdout or b"{}") == {"status": "ok"}:
            return None
        return (result.stderr or result.stdout).decode(errors="replace").strip()[:200]

    # Then: it answers (kube-proxy programs the endpoints a moment after the pods are Ready)
    wait_until(answers, f"{url} to answer from {control_plane}", 30, interval=0.5)

    # Then: Prometheus (Kubernetes service discovery) scrapes every pod, with its labels
    names = {p.metadata.name for p in pods}
    prometheus = str(kind.cluster.prometheus_url)

    def scraped() -> str | None:
        up = prometheus_query(prometheus, f'up{{job="kubernetes-pods",namespace="{namespace}"}}')
        found = {r["metric"]["pod"]: r["value"][1] for r in up}
        return None if found == dict.fromkeys(names, "1") else f"up: {found}"

    wait_until(scraped, f"Prometheus at {prometheus} to scrape {sorted(names)}", 60, interval=1)
    info = prometheus_query(prometheus, f'sre_platform_build_info{{namespace="{namespace}"}}')
    assert {r["metric"].get("app_kubernetes_io_instance") for r in info} == {RELEASE}, info
    assert {r["metric"].get("node") for r in info} <= set(kind.nodes), info


# ---- host-level facts (testinfra) ----------------------------------------------------------


def _missing_sys_resource(status: str) -> bool:
    bounding = next(line.split()[1] for line in status.splitlines() if line.startswith("CapBnd"))
    return not int(bounding, 16) >> 24 & 1


def test_nodes_run_containerd_and_kubelet_fitted_to_their_capabilities(
    kind: Kind, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKER_HOST", kind.engine.host)  # testinfra's docker backend
    for name in kind.nodes:
        node = testinfra.get_host(f"docker://{name}")
        for unit in ("containerd", "kubelet"):
            service = node.service(unit)
            assert service.is_running and service.is_enabled, f"{unit} on {name}"
        config = node.file("/etc/containerd/config.toml").content_string
        if kind.up.node_image.startswith("localhost/"):  # our node image
            lacks = _missing_sys_resource(node.file("/proc/1/status").content_string)
            expected = "true" if lacks else "false"
            assert f"restrict_oom_score_adj = {expected}" in config, name
            # containerd gives privileged pods its own capability set: plain runc suffices
            assert node.check_output("readlink -f $(command -v runc)") == "/usr/sbin/runc"
            assert "runc-wrapper" not in config
        assert node.socket("unix:///run/containerd/containerd.sock").is_listening


def test_this_host_engine_confined_with_the_wrapper_only_where_needed(kind: Kind) -> None:
    if not kind.engine.ours:
        missing = docker.missing_capabilities()
        assert not missing or kind.engine.runtime != "runc", "capabilities missing, plain runc"
        pytest.skip("the Docker engine is not ours (its configuration is its owner's)")
    host = testinfra.get_host("local://")
    config_file = docker.docker_dir() / "daemon.json"
    dockerd = [
        p for p in host.process.filter(comm="dockerd") if f"--config-file={config_file}" in p.args
    ]
    assert len(dockerd) == 1, host.process.filter(comm="dockerd")
    config = json.loads(host.file(str(config_file)).content_string)
    assert config["iptables"] is False and config["ip-forward"] is False, config
    assert config["bridge"] == "none"
    missing = docker.missing_capabilities()
    if missing:  # the wrapper registered and the default
        assert kind.engine.runtime == docker.WRAPPER_RUNTIME
        wrapper = Path(config["runtimes"][docker.WRAPPER_RUNTIME]["path"])
        assert host.file(str(wrapper)).is_file
        assert host.check_output(f"{wrapper} --missing").split() == missing
        # and it is what makes a privileged container possible here: plain runc fails
        image = kind.up.node_image
        run = ["run", "--rm", "--privileged", "--entrypoint=/bin/true", "--network=none"]
        plain = kind.engine.docker(*run, "--runtime=runc", image, check=False)
        assert plain.returncode != 0 and b"apply caps" in plain.stderr, plain.stderr
        assert kind.engine.docker(*run, image, check=False).returncode == 0
    else:
        assert kind.engine.runtime == "runc" and "runtimes" not in config
    # Confined: no Docker chain on the host, forwarding and links as they were before
    before = kind_cluster.saved_state().get("host_before")
    assert before is not None, "kind up recorded no host facts before starting dockerd"
    assert docker.host_changes(before) == [f"link {docker.BRIDGE}"]  # the nodes' network
    assert not host.interface("docker0").exists


@pytest.mark.parametrize("program", ["runc-wrapper", "kindnet", "kube-targets"])
def test_kind_go_programs_pass_their_unit_tests(program: str) -> None:
    """scripts/kind's Go programs: the wrapper's command-line and spec handling, kindnet's
    node list and CNI config, kube-targets' discovery (go test; no cluster needed)."""
    result = subprocess.run(
        ["go", "test", "-count=1", "./..."],
        cwd=REPO_ROOT / "scripts" / "kind" / program,
        env={**os.environ, "GOFLAGS": "-mod=mod", "GOTOOLCHAIN": "local"},
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.order(-1)
def test_kind_down_leaves_the_host_as_found(kind: Kind) -> None:
    """Runs last in the session; only when this session created the cluster (its teardown
    would delete it now anyway)."""
    if not (kind.up.created and kind_cluster.created_here()) or kind.cluster.keep:
        pytest.skip(
            "this session did not create the cluster (or --keep-cluster): not ours to delete"
        )
    state = kind_cluster.saved_state()
    left = kind_cluster.down(say=lambda _: None)
    assert left == [], left
    host = testinfra.get_host("local://")
    assert not [p.args for p in host.process.filter(comm="dockerd") if str(kind_root()) in p.args]
    shims = [
        p.args for p in host.process.filter(comm="containerd-shim") if str(kind_root()) in p.args
    ]
    assert not shims
    mounts = [m for m in host.mount_point.get_mountpoints() if str(kind_root()) in m.path]
    assert not mounts, [m.path for m in mounts]
    assert not host.interface(docker.BRIDGE).exists
    if state.get("host_before"):
        assert docker.host_changes(state["host_before"]) == []
    if state.get("created_lib_modules"):
        assert not host.file("/lib/modules").exists
