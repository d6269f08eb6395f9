"""A breakage with real errors (issue 13): on the lab's real node, a deployed version whose
pods really fail requests makes the success-rate SLO fail, and only it.

The other breakages (test_breakage.py) run on kwok pods with SIMULATED traffic; here the
pods are real service processes with FAULT_ERROR_RATE=0.2 (a fifth of API requests
answered 500 by the service itself), wrk sends them real requests through their Service,
and Prometheus scrapes their own /metrics. The tier runs `--read-only`: its API round trip
writes through the same failing API (it would fail too, rightly, but this test is about the
SLO).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from real_node_scratch import real_node_environment
from scratch import ScratchEnvironment

from fixtures.cluster import Cluster
from fixtures.e2e.plan import fault_env

pytestmark = pytest.mark.e2e

SUCCESS = "slo success rate"
ERROR_RATE = 0.2


@pytest.fixture(scope="module")
def failing_release(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[
    ScratchEnvironment
]:  # fmt: skip
    directory: Path = tmp_path_factory.mktemp("validate-real-errors")
    with real_node_environment(cluster, directory, fault_env(error_rate=ERROR_RATE)) as env:
        yield env


def test_real_errors_fail_the_success_rate_slo(failing_release: ScratchEnvironment) -> None:
    # Given: real pods answering a fifth of API requests with 500, under real load
    # When
    result = failing_release.run_tier("--read-only")

    # Then: exactly the success-rate SLO fails, with the rate it measured
    assert result.returncode == 1, result
    assert result.failed() == [SUCCESS], result
    message = result.checks[SUCCESS]["message"]
    assert "to be at least 0.99 (slo.success_rate_min)" in message, message
    measured = re.search(r"is (0\.\d{4}) of (\d+) requests", message)
    assert measured is not None, message
    rate, requests = float(measured.group(1)), int(measured.group(2))
    # 1 - 0.2 give or take the binomial spread of a few hundred requests
    assert 1 - ERROR_RATE - 0.1 < rate < 1 - ERROR_RATE + 0.1, message
    assert requests >= 100, message
    assert result.checks[SUCCESS]["measured"].startswith(f"{rate:.4f}"), result.checks[SUCCESS]
