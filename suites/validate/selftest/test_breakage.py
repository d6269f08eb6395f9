"""Breaking a healthy environment one way at a time makes exactly the matching check fail.

Given the scratch environment (every check passes, test_healthy.py), each scenario breaks
one thing the way it breaks in real life and runs the tier: the exit code is 1 and the
failed checks are precisely the ones that describe the break, with a message that says
what is wrong.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from scratch import RELEASE, REPLICAS, ScratchEnvironment, scratch_environment

from fixtures.cluster import Cluster
from fixtures.core.helm import install, wait_healthy
from fixtures.core.kube import wait_until
from fixtures.core.tools import REPO_ROOT
from fixtures.e2e.plan import fault_env

pytestmark = pytest.mark.e2e

DRIFT = "image tag == git (drift)"
RESTARTS = "restarts since revision"
P99 = "slo latency p99"
SUCCESS = "slo success rate"
JUDGE = "slo judge vs previous revision"
SLOWER_MS = 150  # far inside the 500 ms p99 threshold, many times the simulated latency


def test_wrong_image_tag_in_git_fails_drift(scratch: ScratchEnvironment, tmp_path: Path) -> None:
    # Given: a GitOps checkout whose values file names another tag than the one running
    gitops = tmp_path / "gitops"
    shutil.copytree(REPO_ROOT / "helm", gitops / "helm")
    values_file = gitops / "helm" / "values-lab.yaml"
    values = yaml.safe_load(values_file.read_text())
    values["image"]["tag"] = "0123456789abcdef0123456789abcdef01234567"
    values_file.write_text(yaml.safe_dump(values))

    # When
    result = scratch.run_tier("--gitops-root", str(gitops))

    # Then
    assert result.returncode == 1, result
    assert result.failed() == [DRIFT], result
    message = result.checks[DRIFT]["message"]
    assert "0123456789abcdef0123456789abcdef01234567" in message, message
    assert f"is {scratch.tag}" in message and "drifted from git" in message, message


@pytest.fixture
def restarted_pod(scratch: ScratchEnvironment) -> Iterator[str]:
    """One pod of the current revision whose container crashed three times (exit 1)."""
    cluster, namespace = scratch.cluster, scratch.namespace
    pods = cluster.kube.list(
        f"/api/v1/namespaces/{namespace}/pods", f"app.kubernetes.io/instance={RELEASE}"
    )
    pod = pods[0]["metadata"]["name"]
    patch: list[dict[str, Any]] = [
        {"op": "replace", "path": "/status/containerStatuses/0/restartCount", "value": 3},
        {"op": "replace", "path": "/status/containerStatuses/0/lastState",
         "value": {"terminated": {"exitCode": 1, "reason": "Error",
                                  "startedAt": "2026-01-01T00:00:00Z",
                                  "finishedAt": "2026-01-01T00:00:05Z"}}},
    ]  # fmt: skip
    cluster.kube.patch("v1", "Pod", pod, patch, namespace, subresource="status")
    yield pod
    # A fresh pod replaces it, with no restarts, and the environment is healthy again.
    cluster.kube.delete("v1", "Pod", pod, namespace)
    wait_until(
        lambda: None if cluster.kube.get(f"/api/v1/namespaces/{namespace}/pods/{pod}") is None
        else "still there",
        f"pod {namespace}/{pod} to be deleted", 60,
    )  # fmt: skip
    wait_until(lambda: all_ready(scratch), f"{REPLICAS} ready pods in {namespace}", 60)
    wait_healthy(cluster, scratch.release, timeout=60)


def all_ready(scratch: ScratchEnvironment) -> str | None:
    pods = scratch.cluster.core.list_namespaced_pod(
        scratch.namespace, label_selector=f"app.kubernetes.io/instance={RELEASE}"
    ).items
    ready = [
        p
        for p in pods
        if p.metadata.deletion_timestamp is None
        and any(c.type == "Ready" and c.status == "True" for c in p.status.conditions or [])
    ]
    return None if len(ready) == REPLICAS else f"{len(ready)} ready of {len(pods)}"


def test_crashing_pod_fails_restarts(scratch: ScratchEnvironment, restarted_pod: str) -> None:
    # Given: a pod whose container crashed and was restarted three times (restarted_pod)
    # When
    result = scratch.run_tier()

    # Then
    assert result.returncode == 1, result
    assert result.failed() == [RESTARTS], result
    message = result.checks[RESTARTS]["message"]
    assert f"pod {restarted_pod} restarted 3x" in message, message
    assert "Error (code 1)" in message and "to be at most 0" in message, message


def test_unmeetable_p99_threshold_fails_latency_slo(scratch: ScratchEnvironment) -> None:
    # Given: an SLO the simulated traffic's latency cannot meet (p99 below 1 ms)
    env_file = scratch.env_file(slo__latency_p99_max_seconds=0.001)

    # When
    result = scratch.run_tier(env_file=env_file)

    # Then
    assert result.returncode == 1, result
    assert result.failed() == [P99], result
    assert "to be below 0.001s (slo.latency_p99_max_seconds)" in result.checks[P99]["message"]


def test_too_few_requests_is_no_data_not_a_pass(scratch: ScratchEnvironment) -> None:
    # Given: more requests required than the window can hold
    env_file = scratch.env_file(slo__min_requests=10**9)

    # When
    result = scratch.run_tier(env_file=env_file)

    # Then: both SLO checks fail, and say that the data is missing
    assert result.returncode == 1, result
    assert result.failed() == sorted([P99, SUCCESS]), result
    for check in (P99, SUCCESS):
        assert "is no data" in result.checks[check]["message"], result.checks[check]


@pytest.fixture
def slower_revision(
    cluster: Cluster, service_process: Any, tmp_path: Path
) -> Iterator[ScratchEnvironment]:
    """A scratch environment whose current revision (promoted by the canary analysis, inside
    its thresholds) serves every API request SLOWER_MS slower than the previous one did."""
    with scratch_environment(cluster, service_process.url, tmp_path) as env:
        values = {"replicaCount": REPLICAS, "extraEnv": fault_env(latency_ms=SLOWER_MS)}
        install(cluster, env.namespace, release=RELEASE, values=values, timeout=240)
        yield env


def test_slower_revision_fails_the_judge(slower_revision: ScratchEnvironment) -> None:
    # Given: the current revision is 150 ms slower than the previous one, every SLO met
    # When
    result = slower_revision.run_tier()

    # Then: the judge, and only the judge, fails, saying on which metric
    assert result.returncode == 1, result
    assert result.failed() == [JUDGE], result
    message = result.checks[JUDGE]["message"]
    assert "current revision to be not worse than the previous one" in message, message
    assert "is fail, score" in message and "latency fail" in message, message
