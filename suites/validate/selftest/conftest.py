"""Self-tests of the validate tier: it passes on a healthy environment, each way of breaking
the environment makes the matching check fail, bad input gets its exit code, and it runs
under the read-only identity of deploy/rbac/validate-readonly.yaml.

Run them by path (the tier itself never collects this directory):

    scripts/run-pytest.sh validate-selftest suites/validate/selftest

They need the lab (`--cluster lab`, the default, brought up if needed) and build their
own scratch environment, so they never touch the lab's `sre-platform` namespace:

- the repository's chart with helm/values-lab.yaml (six replicas) in a namespace of its own;
- SIMULATED traffic for its pods (fixtures/traffic.py) feeding the lab's Prometheus;
- the real service (`python -m sre_platform serve`, real PostgreSQL and Redis on loopback)
  standing in for the pods, which serve nothing on kwok nodes, with APP_VERSION set to
  the deployed tag as the chart sets it;
- an environment file that names all of that, written to a temporary directory.

Each test then runs the tier as a user would, `pytest suites/validate --env-file ...`, in
a subprocess, and reads the JUnit report.
"""

from __future__ import annotations

import copy
import os
import subprocess
import sys
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from fixtures import traffic
from fixtures.cluster import Cluster, ClusterOptions
from fixtures.environment import load as load_environment
from fixtures.environment import read_values_key
from fixtures.kube import wait_until
from fixtures.prometheus import Prometheus
from fixtures.render import RenderRequest, helm_template
from fixtures.tools import REPO_ROOT

RELEASE = "sre-platform"
REPLICAS = 6
ENV_NAME = "selftest"
TIER_TIMEOUT = 120


@pytest.fixture(scope="session")
def cluster_options(pytestconfig: pytest.Config) -> ClusterOptions:
    """The cluster plugin's own options (the lab by default), not an environment file's."""
    return ClusterOptions.from_config(pytestconfig)


@dataclass
class TierResult:
    """One run of the tier: exit code, output, and per check (result, measured, message)."""

    returncode: int
    output: str
    checks: dict[str, dict[str, str]] = field(default_factory=dict)

    def result(self, check: str) -> str:
        assert check in self.checks, (
            f"check {check!r} to be reported, reported: {sorted(self.checks)}"
        )
        return self.checks[check]["result"]

    def failed(self) -> list[str]:
        return sorted(name for name, c in self.checks.items() if c["result"] in ("FAIL", "ERROR"))

    def __str__(self) -> str:
        return f"exit {self.returncode}\n{self.output[-6000:]}"


def read_junit(path: Path) -> dict[str, dict[str, str]]:
    """check name -> {result, measured, threshold, message} from a JUnit report."""
    checks: dict[str, dict[str, str]] = {}
    # The report was written by the tier a moment ago, not by anyone untrusted.
    for case in ET.parse(path).getroot().iter("testcase"):  # noqa: S314
        props = {p.get("name", ""): p.get("value", "") for p in case.iter("property")}
        name = props.get("check") or case.get("name", "?")
        result, message = "PASS", ""
        for tag, label in (("failure", "FAIL"), ("error", "ERROR"), ("skipped", "SKIP")):
            element = case.find(tag)
            if element is not None:
                result, message = label, element.get("message", "")
                break
        checks[name] = {"result": result, "message": message, **props}
    return checks


@dataclass
class ScratchEnvironment:
    """A healthy environment of the lab that only the self-tests use."""

    cluster: Cluster
    namespace: str
    tag: str
    base_url: str
    directory: Path
    data: dict[str, Any] = field(default_factory=dict)

    def env_file(self, name: str = ENV_NAME, **overrides: Any) -> Path:
        """Write an environment file; `overrides` are dotted keys (`slo__window="1m"`)."""
        data = copy.deepcopy(self.data)
        data["name"] = name
        for dotted, value in overrides.items():
            node = data
            *parents, last = dotted.split("__")
            for part in parents:
                node = node.setdefault(part, {})
            node[last] = value
        path = self.directory / "environments" / f"{name}.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(data, sort_keys=False))
        return path

    def run_tier(self, *args: str, env_file: Path | None = None) -> TierResult:
        """`pytest suites/validate --env-file <file> <args>` as a user runs it."""
        junit = self.directory / f"junit-{uuid.uuid4().hex[:8]}.xml"
        file = env_file or self.env_file()
        argv = [sys.executable, "-m", "pytest", "suites/validate", "-p", "no:cacheprovider",
                f"--junitxml={junit}", "--env-file", str(file), *args]  # fmt: skip
        environ = {k: v for k, v in os.environ.items() if not k.startswith("SRE_PLATFORM_ENV")}
        proc = subprocess.run(
            argv, cwd=REPO_ROOT, capture_output=True, text=True, timeout=TIER_TIMEOUT,
            env=environ, check=False,
        )  # fmt: skip
        checks = read_junit(junit) if junit.is_file() else {}
        return TierResult(proc.returncode, proc.stdout + proc.stderr, checks)


def render(namespace: str, *extra: str) -> str:
    return helm_template(
        RenderRequest(
            chart=REPO_ROOT / "helm",
            release=RELEASE,
            namespace=namespace,
            values=(REPO_ROOT / "helm" / "values-lab.yaml",),
            set_values=(f"replicaCount={REPLICAS}", *extra),
        )
    )


def rollout_healthy(cluster: Cluster, namespace: str) -> str | None:
    obj = cluster.custom.get_namespaced_custom_object(
        "argoproj.io", "v1alpha1", namespace, "rollouts", RELEASE
    )
    status = obj.get("status") or {}
    if status.get("phase") == "Healthy" and status.get("availableReplicas") == REPLICAS:
        return None
    return f"{status.get('phase')} ({status.get('availableReplicas')} available)"


@pytest.fixture(scope="session")
def backing_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The real service on loopback (PostgreSQL, Redis), reporting the lab's deployed tag."""
    from tests.localservers import PostgresServer, RedisServer, ServiceProcess

    tag = str(read_values_key(REPO_ROOT / "helm" / "values-lab.yaml", "image.tag"))
    postgres, redis_server = PostgresServer(), RedisServer()
    postgres.start()
    redis_server.start()
    service = ServiceProcess(
        {"DATABASE_URL": postgres.create_database("sre_platform"), "REDIS_URL": redis_server.url,
         "APP_VERSION": tag, "GIT_SHA": tag, "MIGRATE_ON_START": "true", "LOG_LEVEL": "WARNING"}
    )  # fmt: skip
    try:
        service.start()
        yield service
    finally:
        service.stop()
        service.cleanup()
        redis_server.cleanup()
        postgres.cleanup()


@pytest.fixture(scope="session")
def scratch(
    cluster: Cluster, backing_service: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ScratchEnvironment]:
    if cluster.prometheus_url is None:
        pytest.skip("the self-tests feed the lab's Prometheus (--cluster lab)")
    namespace = f"validate-st-{uuid.uuid4().hex[:6]}"
    tag = str(read_values_key(REPO_ROOT / "helm" / "values-lab.yaml", "image.tag"))
    cluster.kubectl("create", "namespace", namespace)
    process = None
    try:
        cluster.kubectl("apply", "-n", namespace, "-f", "-", input=render(namespace))
        wait_until(lambda: rollout_healthy(cluster, namespace),
                   f"Rollout {namespace}/{RELEASE} to be Healthy", 90)  # fmt: skip
        process = traffic.start(namespace, cluster.kubeconfig, cluster.context,
                                namespaces=[namespace])  # fmt: skip
        env = ScratchEnvironment(cluster, namespace, tag, backing_service.url,
                                 tmp_path_factory.mktemp("validate-selftest"))  # fmt: skip
        lab = load_environment("lab")
        env.data = copy.deepcopy(lab.data)
        env.data.update(
            description="validate tier self-test (scratch namespace)",
            namespace=namespace,
            release=RELEASE,
            service={"base_url": backing_service.url, "timeout_seconds": 5},
            prometheus={"url": cluster.prometheus_url},
            cluster={"kubeconfig": str(cluster.kubeconfig), "context": cluster.context or ""},
        )
        env.data["slo"]["window"] = "1m"
        wait_for_traffic(Prometheus(cluster.prometheus_url), namespace, 10 * REPLICAS)
        yield env
    finally:
        if process is not None:
            process.stop()
        if not cluster.keep:
            cluster.kubectl("delete", "namespace", namespace, "--wait=false", check=False)


def wait_for_traffic(prometheus: Prometheus, namespace: str, minimum: float) -> None:
    """Until Prometheus has two scrapes of every pod's requests (a rate needs two)."""
    query = f'sum(rate(http_requests_total{{namespace="{namespace}"}}[1m]))'

    def check() -> str | None:
        value = prometheus.value(query)
        return None if value is not None and value > 0 else f"{value} requests/s"

    wait_until(check, f"simulated traffic of {namespace} in Prometheus", 60)
    time.sleep(1)


@pytest.fixture
def check() -> None:
    """The self-tests are not checks: no summary row (overrides the tier's autouse fixture)."""
    return None
