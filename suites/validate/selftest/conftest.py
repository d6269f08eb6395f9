"""Self-tests of the validate tier: it passes on a healthy environment, each way of breaking
the environment makes the matching check fail, bad input gets its exit code, and it runs
under the read-only identity of deploy/rbac/validate-readonly.yaml.

Run them by path (the tier itself never collects this directory):

    scripts/run-pytest.sh validate-selftest suites/validate/selftest

They need the lab (`--cluster lab`, the default, brought up if needed) and build their
own scratch environment (scratch.py), so they never touch the lab's `sre-platform`
namespace.

Each test then runs the tier as a user would, `pytest suites/validate --env-file ...`, in
a subprocess, and reads the JUnit report.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from scratch import ScratchEnvironment, backing_service, scratch_environment

from fixtures.cluster import Cluster, ClusterOptions


@pytest.fixture(scope="session")
def cluster_options(pytestconfig: pytest.Config) -> ClusterOptions:
    """The cluster plugin's own options (the lab by default), not an environment file's."""
    return ClusterOptions.from_config(pytestconfig)


@pytest.fixture(scope="session")
def service_process() -> Iterator[Any]:
    with backing_service() as service:
        yield service


def _scratch(
    cluster: Cluster, service_url: str, directory: Path, values: dict[str, Any] | None = None
) -> Iterator[ScratchEnvironment]:
    if cluster.prometheus_url is None:
        pytest.skip("the self-tests feed the lab's Prometheus (--cluster lab)")
    with scratch_environment(cluster, service_url, directory, values) as env:
        yield env


@pytest.fixture(scope="session")
def scratch(
    cluster: Cluster, service_process: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ScratchEnvironment]:
    directory = tmp_path_factory.mktemp("validate-selftest")
    yield from _scratch(cluster, service_process.url, directory)


@pytest.fixture(scope="session")
def scratch_deployment(
    cluster: Cluster, service_process: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ScratchEnvironment]:
    """The same, with the chart's Deployment fallback (`rollouts.enabled: false`, like dev)."""
    directory = tmp_path_factory.mktemp("validate-selftest-deployment")
    yield from _scratch(cluster, service_process.url, directory, {"rollouts": {"enabled": False}})


@pytest.fixture
def check() -> None:
    """The self-tests are not checks: no summary row (overrides the tier's autouse fixture)."""
    return None
