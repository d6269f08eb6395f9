"""Faults of the platform itself during a canary (issue 6, scenario 9).

1. Prometheus unreachable during analysis: every measurement errors; after
   `analysis.consecutiveErrorLimit` errors in a row the AnalysisRun is Error, which the
   chart's templates treat like Failed: the rollout aborts and never promotes the canary.
2. The Argo Rollouts controller killed and restarted mid-rollout: the rollout waits while
   it is gone and, once it is back, resumes where it was and completes, every step walked
   and every analysis Successful.

On the lab the components are stopped and started with
fixtures.lab.control_plane.stop_component / start_component; these tests restore them
whatever happens. (The lab is shared: marked `serial`, each runs with no other test of
the session at the same time, fixtures/e2e/parallel.py; another session on the lab would see
the same outage for those seconds.)
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from fixtures.cluster import Cluster
from fixtures.core.kube import hold_for, wait_until
from fixtures.e2e.scenario import Scenario
from fixtures.lab import control_plane
from fixtures.traffic.simulated import TrafficProcess

# They stop what every scenario uses: under pytest-xdist nothing else runs meanwhile.
pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.serial]

REPLICAS = 10
STEPS: list[dict[str, Any]] = [
    {"setWeight": 20},
    {"analysis": {"count": 2}},
    {"setWeight": 50},
    {"analysis": {"count": 2}},
]


@pytest.fixture
def lab_components(cluster: Cluster) -> Iterator[list[str]]:
    """Names of the lab components a test stopped; each is started again afterwards."""
    if cluster.provider != "lab":
        pytest.skip("stops and starts lab components (fixtures.lab); --cluster lab only")
    stopped: list[str] = []
    yield stopped
    for name in stopped:
        control_plane.start_component(name)


def test_prometheus_unreachable_stops_the_promotion(
    scenario: Scenario, analysis: TrafficProcess, lab_components: list[str]
) -> None:
    with scenario.given(f"version a on {REPLICAS} replicas, Healthy, serving traffic"):
        scenario.install("a", replicaCount=REPLICAS, rollouts={"canary": {"steps": STEPS}})
        stable = scenario.rollout().stable_hash
    with scenario.and_("a good version b whose first analysis is running"):
        scenario.update("b")
        scenario.expect_step(1, timeout=30)
        canary = scenario.rollout().current_hash

    with scenario.recorder() as recorder:
        with scenario.when("Prometheus becomes unreachable"):
            lab_components.append("prometheus")
            control_plane.stop_component("prometheus")
        with scenario.then("the AnalysisRun ends in Error: the measurements could not be taken"):

            def errored() -> str | None:
                runs = scenario.analysis_runs_for(canary)
                phase = runs[-1].phase if runs else None
                return None if phase == "Error" else "; ".join(r.summary() for r in runs)

            wait_until(errored, "the canary's AnalysisRun to be Error", 60)
            run = scenario.analysis_runs_for(canary)[-1]
            errors = [m for m in run.metrics if m.phase == "Error"]
            assert errors, run.summary()
            messages = " ".join(e.messages for e in errors)
            assert "16900" in messages or "connection refused" in messages, messages
        with scenario.and_("the rollout aborts instead of promoting: Degraded, all pods on a"):
            scenario.expect_aborted(timeout=30)
            assert scenario.rollout().stable_hash == stable
    with scenario.and_("the canary never got past its first weight"):
        assert recorder.max_set_weight() <= STEPS[0]["setWeight"], recorder.table()

    with scenario.when("Prometheus is back"):
        lab_components.remove("prometheus")
        control_plane.start_component("prometheus")
    with scenario.then("the rollout stays where the analysis left it: aborted, a stable"):

        def where_left() -> str | None:
            rollout = scenario.rollout()
            return None if rollout.aborted and rollout.stable_hash == stable else rollout.describe()

        hold_for(where_left, "the rollout to stay aborted on a", 2)


def test_controller_restart_mid_rollout_resumes_and_completes(
    scenario: Scenario, analysis: TrafficProcess, lab_components: list[str]
) -> None:
    with scenario.given(f"version a on {REPLICAS} replicas, Healthy, serving traffic"):
        scenario.install("a", replicaCount=REPLICAS, rollouts={"canary": {"steps": STEPS}})

    with scenario.recorder() as recorder:
        with scenario.when("version b is deployed and its first analysis is running"):
            scenario.update("b")
            scenario.expect_step(1, timeout=30)
            canary = scenario.rollout().current_hash
        with scenario.and_("the Argo Rollouts controller is killed"):
            lab_components.append("rollouts-controller")
            control_plane.stop_component("rollouts-controller")
            step_when_killed = scenario.rollout().step_index
        with scenario.then("nothing moves while it is gone (8 s)"):

            def still() -> str | None:
                rollout = scenario.rollout()
                return None if rollout.step_index == step_when_killed else rollout.describe()

            hold_for(still, f"the rollout to stay at step {step_when_killed}", 8)
        with scenario.when("the controller is started again"):
            lab_components.remove("rollouts-controller")
            control_plane.start_component("rollouts-controller")
        with scenario.then("the rollout resumes and completes: Healthy on b"):
            scenario.expect_healthy("b", timeout=90)

    with scenario.and_("every step was walked, in order, none skipped"):
        walked = recorder.step_order(canary)
        first = walked[0] if walked and walked[0] is not None else -1
        assert 0 <= first <= 1, recorder.table()
        assert walked == list(range(first, len(STEPS) + 1)), recorder.table()
    with scenario.and_("every AnalysisRun of b was Successful"):
        runs = scenario.analysis_runs_for(canary)
        assert [r.phase for r in runs] == ["Successful", "Successful"], [r.summary() for r in runs]
