"""Faults of the platform itself during a canary (issue 6, scenario 9).

1. Prometheus unreachable during analysis: every measurement errors; after
   `analysis.consecutiveErrorLimit` errors in a row the AnalysisRun is Error, which the
   chart's templates treat like Failed: the rollout aborts and never promotes the canary.
2. The Argo Rollouts controller killed and restarted mid-rollout: the rollout waits while
   it is gone and, once it is back, resumes where it was and completes, every step walked
   and every analysis Successful.

On the lab the components are stopped and started with fixtures.lab.stop_component /
start_component; these tests restore them whatever happens. (The lab is shared: anything
else using it sees the same outage for those seconds.)
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from fixtures import lab, traffic
from fixtures.cluster import Cluster
from fixtures.kube import wait_until
from fixtures.rollouts import HASH_LABEL, Scenario, describe, run_summary

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

REPLICAS = 10
STEPS: list[dict[str, Any]] = [
    {"setWeight": 20},
    {"analysis": {"count": 2}},
    {"setWeight": 50},
    {"analysis": {"count": 2}},
]


def runs_of(scenario: Scenario, pod_hash: str) -> list[dict[str, Any]]:
    return [
        r
        for r in scenario.analysis_runs()
        if r["metadata"].get("labels", {}).get(HASH_LABEL) == pod_hash
    ]


@pytest.fixture
def lab_components(cluster: Cluster) -> Iterator[list[str]]:
    """Names of the lab components a test stopped; each is started again afterwards."""
    if cluster.provider != "lab":
        pytest.skip("stops and starts lab components (fixtures.lab); --cluster lab only")
    stopped: list[str] = []
    yield stopped
    for name in stopped:
        lab.start_component(name)


def test_prometheus_unreachable_stops_the_promotion(
    scenario: Scenario, analysis: traffic.TrafficProcess, lab_components: list[str]
) -> None:
    with scenario.given(f"version a on {REPLICAS} replicas, Healthy, serving traffic"):
        scenario.install("a", replicaCount=REPLICAS, rollouts={"canary": {"steps": STEPS}})
        stable = scenario.rollout()["status"]["stableRS"]
    with scenario.and_("a good version b whose first analysis is running"):
        scenario.update("b")
        scenario.expect_step(1, timeout=30)
        canary = scenario.rollout()["status"]["currentPodHash"]

    with scenario.recorder() as recorder:
        with scenario.when("Prometheus becomes unreachable"):
            lab_components.append("prometheus")
            lab.stop_component("prometheus")
        with scenario.then("the AnalysisRun ends in Error: the measurements could not be taken"):

            def errored() -> str | None:
                runs = runs_of(scenario, canary)
                phase = runs[-1].get("status", {}).get("phase") if runs else None
                return None if phase == "Error" else "; ".join(map(run_summary, runs))

            wait_until(errored, "the canary's AnalysisRun to be Error", 60)
            run = runs_of(scenario, canary)[-1]
            errors = [m for m in run["status"]["metricResults"] if m["phase"] == "Error"]
            assert errors, run_summary(run)
            messages = " ".join(
                m.get("message", "") for e in errors for m in e.get("measurements", [])
            )
            assert "16900" in messages or "connection refused" in messages, messages
        with scenario.and_("the rollout aborts instead of promoting: Degraded, all pods on a"):
            scenario.expect_aborted(timeout=30)
            assert scenario.rollout()["status"]["stableRS"] == stable
    with scenario.and_("the canary never got past its first weight"):
        assert max(s.set_weight for s in recorder.samples) <= STEPS[0]["setWeight"], (
            recorder.table()
        )

    with scenario.when("Prometheus is back"):
        lab_components.remove("prometheus")
        lab.start_component("prometheus")
    with scenario.then("the rollout stays where the analysis left it: aborted, a stable"):
        time.sleep(2)
        status = scenario.rollout()["status"]
        assert status.get("abort") and status["stableRS"] == stable, describe(scenario.rollout())


def test_controller_restart_mid_rollout_resumes_and_completes(
    scenario: Scenario, analysis: traffic.TrafficProcess, lab_components: list[str]
) -> None:
    with scenario.given(f"version a on {REPLICAS} replicas, Healthy, serving traffic"):
        scenario.install("a", replicaCount=REPLICAS, rollouts={"canary": {"steps": STEPS}})

    with scenario.recorder() as recorder:
        with scenario.when("version b is deployed and its first analysis is running"):
            scenario.update("b")
            scenario.expect_step(1, timeout=30)
            canary = scenario.rollout()["status"]["currentPodHash"]
        with scenario.and_("the Argo Rollouts controller is killed"):
            lab_components.append("rollouts-controller")
            lab.stop_component("rollouts-controller")
            step_when_killed = scenario.rollout()["status"].get("currentStepIndex")
        with scenario.then("nothing moves while it is gone (8 s)"):
            time.sleep(8)
            status = scenario.rollout()["status"]
            assert status.get("currentStepIndex") == step_when_killed, describe(scenario.rollout())
        with scenario.when("the controller is started again"):
            lab_components.remove("rollouts-controller")
            lab.start_component("rollouts-controller")
        with scenario.then("the rollout resumes and completes: Healthy on b"):
            scenario.expect_healthy("b", timeout=90)

    with scenario.and_("every step was walked, in order, none skipped"):
        order = [s.step for s in recorder.samples if s.canary == canary]
        walked = [step for i, step in enumerate(order) if i == 0 or order[i - 1] != step]
        first = walked[0] if walked and walked[0] is not None else -1
        assert 0 <= first <= 1, recorder.table()
        assert walked == list(range(first, len(STEPS) + 1)), recorder.table()
    with scenario.and_("every AnalysisRun of b was Successful"):
        runs = runs_of(scenario, canary)
        assert [r["status"]["phase"] for r in runs] == ["Successful", "Successful"], [
            run_summary(r) for r in runs
        ]
