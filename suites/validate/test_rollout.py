"""The release's Rollout (or Deployment): Healthy, fully promoted, all replicas available,
nothing paused or aborted left behind, and running the image tag that git holds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from fixtures.core.rollout import image_tag_of as image_tag
from fixtures.validate.environment import Environment, EnvironmentUnusable, read_values_key
from fixtures.validate.state import Workload, pod_image, short
from fixtures.validate.summary import CheckRecord


def test_rollout_healthy(workload: Workload, check: CheckRecord) -> None:
    measured, problem = workload.health()
    check.record(measured, "Healthy" if workload.kind == "Rollout" else "Available, complete")
    check.expect(problem)


def test_rollout_fully_promoted(workload: Workload, check: CheckRecord) -> None:
    measured, problem = workload.promotion()
    check.record(measured, "current == stable, all steps done")
    check.expect(problem)


def test_replicas_available(workload: Workload, check: CheckRecord) -> None:
    measured, problem = workload.availability()
    check.record(measured, f"available == desired ({workload.desired})")
    check.expect(problem)


def test_not_paused_or_aborted(workload: Workload, check: CheckRecord) -> None:
    measured, problem = workload.pause_state()
    check.record(measured, "neither")
    check.expect(problem)


@pytest.mark.check("image tag == git (drift)")
def test_image_matches_git(
    workload: Workload,
    current_pods: list[dict[str, Any]],
    gitops_values: Path,
    environment: Environment,
    check: CheckRecord,
) -> None:
    """Drift: the tag running is the tag the environment's GitOps values file holds."""
    key = environment.image_tag_key
    try:
        wanted = str(read_values_key(gitops_values, key))
    except EnvironmentUnusable as error:
        check.record("unknown", f"{key} of {gitops_values.name}")
        pytest.fail(str(error), pytrace=False)
    running = image_tag(workload.image)
    pod_tags = sorted({str(image_tag(pod_image(p))) for p in current_pods})
    check.record(
        f"{short(running)} (pods: {', '.join(map(short, pod_tags)) or 'none'})",
        f"{short(wanted)} ({gitops_values.name})",
    )
    check.expect(
        None
        if running == wanted
        else f"{workload.ref} image tag to be {wanted} ({key} of {gitops_values}), is {running} "
        f"(image {workload.image}): the environment has drifted from git"
    )
    check.expect(
        None
        if pod_tags == [wanted]
        else f"the current revision's pods to run tag {wanted}, "
        f"run {', '.join(pod_tags) or 'nothing (no pods)'}"
    )
