"""A scratch environment of the lab for the validate tier's self-tests and its benchmark.

What it is made of (all real but the traffic): the repository's chart with
helm/values-lab.yaml and six replicas (fixtures.core.helm, helm upgrade --install) in a
namespace of its own; SIMULATED traffic for its
pods (fixtures.traffic) scraped by the lab's Prometheus; the real service
(`python -m sre_platform serve` with real PostgreSQL and Redis on loopback) standing in
for the kwok pods, which serve nothing, with APP_VERSION set to the deployed tag as the
chart sets it; and an environment file naming all of that, in a temporary directory.
"""

from __future__ import annotations

import contextlib
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

import yaml

from fixtures.admission import Installed
from fixtures.cluster import Cluster
from fixtures.core.helm import Release, install
from fixtures.core.kube import wait_until
from fixtures.core.prometheus import Prometheus
from fixtures.core.tools import REPO_ROOT
from fixtures.traffic import simulated
from fixtures.validate.environment import load as load_environment
from fixtures.validate.environment import read_values_key
from policies.admission.live import shipped
from policies.admission.manifests import ENVIRONMENT_LABEL

RELEASE = "sre-platform"
REPLICAS = 6
ENV_NAME = "selftest"
TIER_TIMEOUT = 120


def deployed_tag() -> str:
    """The lab's tag in git, which the scratch environment deploys."""
    return str(read_values_key(REPO_ROOT / "helm" / "values-lab.yaml", "image.tag"))


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
        name = props.get("check") or case.get("name") or "?"
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
    release: Release
    data: dict[str, Any] = field(default_factory=dict)

    def based_on(self, environment: str, description: str, **settings: Any) -> None:
        """`data`: the repository's environment file `environment`, pointed at this scratch
        namespace, its service and the cluster's Prometheus, with a 1 m SLO window (the
        scratch traffic is minutes old); `settings` replace top-level keys."""
        self.data = copy.deepcopy(load_environment(environment).data)
        self.data.update(
            description=description,
            namespace=self.namespace,
            release=RELEASE,
            service={"base_url": self.base_url, "timeout_seconds": 5},
            prometheus={"url": self.cluster.prometheus_url},
            cluster={
                "kubeconfig": str(self.cluster.kubeconfig),
                "context": self.cluster.context or "",
            },
            **settings,
        )
        self.data["slo"]["window"] = "1m"

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


def wait_for_traffic(prometheus: Prometheus, namespace: str) -> None:
    """Until Prometheus has two scrapes of every pod's requests (a rate needs two)."""
    query = f'sum(rate(http_requests_total{{namespace="{namespace}"}}[1m]))'

    def check() -> str | None:
        value = prometheus.value(query)
        return None if value is not None and value > 0 else f"{value} requests/s"

    wait_until(check, f"simulated traffic of {namespace} in Prometheus", 60)
    time.sleep(1)


@contextlib.contextmanager
def backing_service() -> Iterator[Any]:
    """The real service on loopback (PostgreSQL, Redis), reporting the lab's deployed tag."""
    from tests.localservers import PostgresServer, RedisServer, ServiceProcess

    tag = deployed_tag()
    postgres, redis_server = PostgresServer(), RedisServer()
    service = None
    try:
        postgres.start()
        redis_server.start()
        service = ServiceProcess(
            {"DATABASE_URL": postgres.create_database("sre_platform"),
             "REDIS_URL": redis_server.url, "APP_VERSION": tag, "GIT_SHA": tag,
             "MIGRATE_ON_START": "true", "LOG_LEVEL": "WARNING"}
        )  # fmt: skip
        service.start()
        yield service
    finally:
        if service is not None:
            service.stop()
            service.cleanup()
        redis_server.cleanup()
        postgres.cleanup()


@contextlib.contextmanager
def scratch_environment(
    cluster: Cluster, service_url: str, directory: Path, values: dict[str, Any] | None = None
) -> Iterator[ScratchEnvironment]:
    """Deploy, feed traffic, write the environment file; delete the namespace at the end.

    `values` go on top of values-lab.yaml (e.g. `{"rollouts": {"enabled": False}}` for a
    Deployment)."""
    if cluster.prometheus_url is None:
        raise RuntimeError("the scratch environment feeds the lab's Prometheus (--cluster lab)")
    namespace = f"validate-st-{uuid.uuid4().hex[:6]}"
    # A healthy environment enforces the admission policies, bound by its namespace's label
    # (suites/validate/test_admission.py); those the lab held already stay afterwards.
    cluster.kube.ensure_namespace(namespace, {ENVIRONMENT_LABEL: ENV_NAME})
    policies = Installed(cluster)
    process = None
    try:
        policies.apply(shipped())
        env_release = install(
            cluster, namespace, release=RELEASE, values={"replicaCount": REPLICAS, **(values or {})}
        )
        process = simulated.start(namespace, cluster.kubeconfig, cluster.context,
                                  namespaces=[namespace])  # fmt: skip
        env = ScratchEnvironment(
            cluster, namespace, deployed_tag(), service_url, directory, env_release
        )
        # helm deployed it from this working tree: no Application, no other checkout
        env.based_on(
            "lab", "validate tier self-test (scratch namespace)", argocd={"enabled": False}
        )
        env.data["gitops"].pop("checkout", None)
        wait_for_traffic(Prometheus(cluster.prometheus_url), namespace)
        yield env
    finally:
        if process is not None:
            process.stop()
        policies.remove()
        if not cluster.keep:
            cluster.kube.delete_namespace(namespace)
