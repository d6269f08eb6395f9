"""Steering a canary by hand with scripts/promote-canary.sh (issue 6, scenario 5).

The runbook's commands, run exactly as an operator runs them (`<action> lab sre-platform`,
pointed at the scenario's namespace with -n/--kubeconfig/--context), against a canary
whose steps stop at indefinite pauses. No analysis steps: what is tested is the script and
the controller, not the metrics.
"""

from __future__ import annotations

from typing import Any

import pytest

from fixtures.e2e.scenario import Scenario, ScriptResult

pytestmark = pytest.mark.e2e

REPLICAS = 10
STEPS: list[dict[str, Any]] = [
    {"setWeight": 20},
    {"pause": {}},
    {"setWeight": 50},
    {"pause": {}},
    {"setWeight": 80},
    {"pause": {"duration": "1s"}},
]


def promote_canary(scenario: Scenario, action: str, *extra: str) -> ScriptResult:
    return scenario.script(
        "scripts/promote-canary.sh", action, "lab", scenario.name, *scenario.cluster_args(),
        *extra,
    )  # fmt: skip


def first_line(result: ScriptResult) -> str:
    """The script's result line: '<where>: <Phase>[ - <message>]' on stdout."""
    lines = [line for line in result.stdout.splitlines() if line.startswith("rollout ")]
    assert lines, str(result)
    return lines[-1]


def test_promote_abort_retry_and_status_drive_the_rollout(scenario: Scenario) -> None:
    with scenario.given(f"version a on {REPLICAS} replicas, a canary pausing at 20% and 50%"):
        scenario.install("a", replicaCount=REPLICAS, rollouts={"canary": {"steps": STEPS}})
    with scenario.and_("version b deployed and paused at its first pause (20%)"):
        scenario.update("b")
        scenario.expect_paused(1)

    with scenario.when("status is asked"):
        status = promote_canary(scenario, "status")
    with scenario.then("it reports what the cluster says: Paused at step 1/6, weight 20"):
        assert status.returncode == 0, str(status)
        rollout = scenario.rollout()
        assert first_line(status).endswith(f"Paused - {rollout.message}"), (
            f"{status}\ncluster: {rollout.describe()}"
        )
        assert "Step:" in status.stdout and "1/6" in status.stdout, str(status)
        assert "SetWeight:     20" in status.stdout, str(status)

    with scenario.when("promote --step is run at the pause"):
        promoted = promote_canary(scenario, "promote", "--step")
    with scenario.then("it advances one step: paused again at the next pause (50%)"):
        assert promoted.returncode == 0, str(promoted)
        scenario.expect_paused(3, timeout=30 + scenario.platform.pod_start_seconds)
        sets = scenario.replica_sets()
        canary = scenario.rollout().current_hash
        assert sets[canary or ""].available == REPLICAS // 2, sets

    with scenario.when("abort is run"):
        aborted = promote_canary(scenario, "abort")
    with scenario.then("the update is aborted: Degraded, every pod back on a"):
        assert aborted.returncode == 0, str(aborted)
        scenario.expect_aborted(timeout=30 + scenario.platform.pod_start_seconds)
    with scenario.and_("status now reports Degraded, with exit 1"):
        status = promote_canary(scenario, "status")
        assert status.returncode == 1 and "Degraded" in first_line(status), str(status)
    with scenario.and_("a second abort is a no-op"):
        again = promote_canary(scenario, "abort")
        assert again.returncode == 0 and "already aborted" in again.stderr, str(again)

    with scenario.when("retry is run"):
        retried = promote_canary(scenario, "retry")
    with scenario.then("the update restarts from step one and pauses at 20% again"):
        assert retried.returncode == 0, str(retried)
        scenario.expect_paused(1, timeout=30 + scenario.platform.pod_start_seconds)
        assert not scenario.rollout().aborted

    with scenario.when("promote --wait is run (the seed's 'promote canary to full rollout')"):
        wait = 90 + 2 * scenario.platform.pod_start_seconds
        full = promote_canary(scenario, "promote", "--wait", "--timeout", f"{wait:.0f}s")
    with scenario.then("the rollout is Healthy on b, and the script says so"):
        assert full.returncode == 0, str(full)
        scenario.expect_healthy("b", timeout=10)
        assert first_line(full).endswith("Healthy"), str(full)
    with scenario.and_("promote on a Healthy rollout is a no-op"):
        noop = promote_canary(scenario, "promote")
        assert noop.returncode == 0 and "nothing to promote" in noop.stderr, str(noop)
