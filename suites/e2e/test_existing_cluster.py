"""`--cluster existing` on real pods, proven on the kind cluster used as an existing one.

A team runs the tier on its own cluster with `make e2e-existing E2E_ARGS="--kubeconfig ...
--image-repository ... --host-address ..."` (fixtures/e2e/existing_platform.py). Here the
kind cluster stands in for it: its nodes hold the service image under every tag the
scenarios deploy (what CI's push to the team's registry gives them), and the command a team
types runs, as a separate pytest session, two scenarios on it; they must pass, on the
existing cluster's platform, with nothing skipped.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from fixtures.cluster import Cluster
from fixtures.core.tools import REPO_ROOT
from fixtures.e2e.existing_platform import IMAGE_TAGS, ExistingPlatform
from fixtures.e2e.platform import Platform

# Not `serial`: that would hold the e2e share lock alone, which the inner session's tests
# then wait for (fixtures/e2e/parallel.py); on kind the tier runs in one process anyway.
pytestmark = [pytest.mark.e2e, pytest.mark.slow]

SCENARIOS = "canary_walks_every_step or bad_canary_is_aborted and errors"
FIGURES = REPO_ROOT / "reports" / "e2e-existing-figures.json"
TIMEOUT = 1200


def test_an_existing_cluster_runs_the_scenarios_on_its_own_pods(
    cluster: Cluster, platform: Platform
) -> None:
    if cluster.provider != "kind":
        pytest.skip("uses the kind cluster as an existing one: make e2e-kind runs it")
    from fixtures.e2e.kind_platform import SERVICE_REPOSITORY
    from fixtures.kind import docker

    for tag in IMAGE_TAGS:  # the registry push's stand-in: each tag on every node
        platform.prepare_image(tag)
    argv = [
        "scripts/run-pytest.sh", "--skip-budget", "existing", "e2e-existing", "suites/e2e",
        "--cluster", "existing", "--kubeconfig", str(cluster.kubeconfig),
        "--context", cluster.context or "", "--prometheus-url", cluster.prometheus_url or "",
        "--image-repository", SERVICE_REPOSITORY, "--host-address", docker.GATEWAY,
        "--pods-from", docker.SUBNET, "--quiet-steps", "-k", SCENARIOS,
    ]  # fmt: skip
    FIGURES.unlink(missing_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    result = subprocess.run(
        argv, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=TIMEOUT, check=False
    )
    output = f"$ {' '.join(argv)}\n{result.stdout[-6000:]}{result.stderr[-3000:]}"
    assert result.returncode == 0, output
    # The skip budget held (a skip off the `existing` list fails the run); each scenario ran
    # and passed on the existing cluster's platform.
    scenarios = json.loads(Path(FIGURES).read_text())["scenarios"]
    assert len(scenarios) == 2, (sorted(scenarios), output)
    assert {s["platform"] for s in scenarios.values()} == {ExistingPlatform.name}, scenarios
    assert {s["outcome"] for s in scenarios.values()} == {"passed"}, scenarios


@pytest.mark.parametrize(
    ("options", "says"),
    [
        ([], "--image-repository needs --host-address"),
        (["--host-address", "nope"], "does not appear to be an IPv4"),
        (["--host-address", "10.0.0.5", "--platform-values", "x.yaml"], "x.yaml does not exist"),
    ],
)
def test_bad_existing_options_are_a_usage_error_before_any_test(
    options: list[str], says: str
) -> None:
    """Nothing is started: pytest's usage error (exit 4) names the option."""
    argv = [sys.executable, "-m", "pytest", "suites/e2e", "-p", "no:cacheprovider",
            "--cluster", "existing", "--collect-only", "-q", "--image-repository", "r",
            *options]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    result = subprocess.run(
        argv, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 4, result.stdout + result.stderr
    assert says in result.stderr, result.stderr
