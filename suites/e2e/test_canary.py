"""Canary releases judged by the chart's own Prometheus analysis (issue 6, scenarios 1-4).

Every scenario deploys this repository's chart with its platform's environment values. On
the lab's simulated nodes (the default) that is `helm/values-lab.yaml`: 20 replicas, so the
canary steps 5/20/50/80 are exact replica ratios (1, 4, 10 and 16 pods) without a traffic
router, each followed by an inline analysis of two measurements 5 s apart, and the
SIMULATED traffic (fixtures.traffic) serves every pod's series with the error rate and
latency of the pod's own `FAULT_*` env. With `--real-node` the scenarios marked `real_node`
run on the lab's real node instead (`helm/values-lab-real-node.yaml`: 5 replicas, 20/40/60/80):
the image built from this repository's Dockerfile, the same `FAULT_*` env making the real
service fail, slow down or crash, and real requests from a load tool through the Service.
The expectations come from the values (`CanaryPlan`), never from constants.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from fixtures.core.kube import wait_until
from fixtures.core.rollout import AnalysisRun, Rollout
from fixtures.e2e.plan import fault_env
from fixtures.e2e.platform import Platform
from fixtures.e2e.scenario import Scenario
from fixtures.traffic.load import ServiceLoad
from fixtures.traffic.simulated import TrafficProcess

pytestmark = pytest.mark.e2e

# What feeds the analysis: the simulated exporter, or real requests to the real node's pods.
Traffic = TrafficProcess | ServiceLoad

# A bad version's fault, named by the metric that must catch it.
BAD_VERSIONS = {"errors": "success-rate", "latency": "latency-p99", "restarts": "restarts"}


def bad_version(bad: str, platform: Platform) -> list[dict[str, str]]:
    """The `extraEnv` of a bad version: the fault switches the service obeys."""
    if bad == "errors":
        return fault_env(error_rate=0.2)
    if bad == "latency":
        return fault_env(latency_ms=600)
    # The process exits that long after it starts serving; kubelet (or kwok's Stage) restarts it.
    return fault_env(exit_after_seconds=platform.crash_after_seconds)


# Thresholds no data can fail: the analysis is broken, it can no longer catch anything.
NEVER_FAILING_FILE = Path(__file__).parent / "values" / "never-failing-analysis.yaml"
NEVER_FAILING: dict[str, Any] = yaml.safe_load(NEVER_FAILING_FILE.read_text())


@pytest.mark.real_node
def test_canary_walks_every_step_and_promotes(scenario: Scenario, analysis: Traffic) -> None:
    plan = scenario.canary_plan()
    # Without a traffic router a weight is a replica ratio: the values must express each.
    assert not plan.inexact_weights(), f"weights not whole pods of {plan.replicas}: {plan}"
    with scenario.given(f"version a on {plan.replicas} replicas, Healthy, serving traffic"):
        scenario.install("a")
        stable = scenario.rollout().stable_hash

    with scenario.recorder() as recorder:
        with scenario.when("the image is updated to b"):
            scenario.update("b")
        with scenario.then("the rollout ends Healthy with b stable"):
            scenario.expect_healthy("b", timeout=plan.rollout_timeout())

    canary = scenario.rollout().current_hash
    assert canary != stable
    with scenario.and_(f"it walked the steps in order, 0 to {len(plan.steps)}, skipping none"):
        walked = recorder.step_order(canary)
        assert walked == list(range(len(plan.steps) + 1)), recorder.table()
    with scenario.and_(f"the canary's actual weight at each analysis was {plan.weights}, then 100"):
        weights = recorder.weights_at_steps(canary)
        assert [weights.get(i) for i in plan.analysis_steps] == [{w} for w in plan.weights], (
            recorder.table()
        )
        assert weights.get(len(plan.steps)) == {100}, recorder.table()
    with scenario.and_(f"{len(plan.analysis_steps)} AnalysisRuns, every one Successful"):
        runs = scenario.analysis_runs_for(canary)
        summaries = [r.summary() for r in runs]
        assert len(runs) == len(plan.analysis_steps), summaries
        for run in runs:
            assert run.phase == "Successful", summaries
            names = sorted(m.name for m in run.metrics)
            assert names == ["latency-p99", "restarts", "success-rate"]
            assert all(m.phase == "Successful" and m.count >= 2 for m in run.metrics), summaries
    with scenario.and_(f"all {plan.replicas} pods run b"):
        scenario.expect_pods_on(canary, plan.replicas)
    scenario.record("rollout_seconds", round(recorder.seconds(), 1))


def _abort_figures(
    scenario: Scenario,
    updated_at: float,
    aborted_at: float,
    failed_run: AnalysisRun,
    interval: float,
) -> float:
    """Record the abort times; return seconds from the first bad measurement to the abort."""
    first_bad = failed_run.first_bad_measurement()
    assert first_bad is not None, failed_run.summary()
    scenario.record("abort_seconds_after_update", round(aborted_at - updated_at, 1))
    # abortedAt and finishedAt have one-second resolution: so does this difference.
    controller_abort = scenario.rollout().aborted_at or aborted_at
    after_bad = max(controller_abort, aborted_at) - first_bad
    scenario.record("abort_seconds_after_first_bad_measurement", round(after_bad, 1))
    scenario.record("analysis_interval_seconds", interval)
    return after_bad


@pytest.mark.real_node
@pytest.mark.parametrize("bad", list(BAD_VERSIONS))
def test_bad_canary_is_aborted(scenario: Scenario, analysis: Traffic, bad: str) -> None:
    env, metric = bad_version(bad, scenario.platform), BAD_VERSIONS[bad]
    plan = scenario.canary_plan()
    with scenario.given(f"version a on {plan.replicas} replicas, Healthy, serving traffic"):
        scenario.install("a")
        stable = scenario.rollout().stable_hash

    deployed = scenario.deploy_bad_canary("b", env, f"with {bad}")
    recorder, aborted, canary = deployed.recorder, deployed.aborted, deployed.canary
    with scenario.and_(f"the AnalysisRun failed on {metric}, and only on {metric}"):
        runs = scenario.analysis_runs_for(canary)
        assert [r.phase for r in runs] == ["Failed"], [r.summary() for r in runs]
        assert runs[0].metrics_in("Failed") == {metric}, runs[0].summary()
    with scenario.and_(
        f"it failed at the first analysis: the canary never went past {plan.weights[0]}%"
    ):
        assert recorder.max_set_weight(canary) == plan.weights[0]
    with scenario.and_(f"all replicas and all traffic are back on a ({plan.replicas} pods)"):
        assert scenario.rollout().stable_hash == stable

        def back_on_a() -> str | None:
            # The stable ReplicaSet scales back up: a real pod takes a moment to start.
            available = scenario.rollout().available
            pods = scenario.pods_by_hash()
            if available == plan.replicas and pods == {stable: plan.replicas}:
                return None
            return f"{available} available, running pods by hash {pods}"

        wait_until(
            back_on_a, f"rollout back on a ({plan.replicas} available pods, all of a)",
            plan.pod_start + 30,
        )  # fmt: skip
        if isinstance(analysis, TrafficProcess):  # the simulated source says whom it serves
            served = {p["hash"] for p in analysis.pods() if p["namespace"] == scenario.namespace}
            assert served == {stable}
        assert scenario.selector_hash(f"{scenario.name}-canary") == stable, (
            "the canary Service still selects b"
        )
    with scenario.and_(f"within two analysis intervals ({2 * plan.interval:.0f}s) of the first bad "
                       "measurement"):  # fmt: skip
        after_bad = _abort_figures(
            scenario, deployed.updated_at, aborted.at, runs[0], plan.interval
        )
        # +1 s: the controller's timestamps have one-second resolution.
        assert after_bad <= 2 * plan.interval + 1, recorder.table()


def test_broken_analysis_lets_a_bad_canary_through(scenario: Scenario, analysis: Traffic) -> None:
    """The control experiment: with thresholds that can never fail, a version with all three
    faults of the scenarios above is promoted: none of the three metrics catches its fault.
    So those scenarios fail when the analysis is broken, as they must (docs/e2e.md shows
    them failing with these values)."""
    env = [e for bad in BAD_VERSIONS for e in bad_version(bad, scenario.platform)]
    plan = scenario.canary_plan()
    short = [{"setWeight": plan.weights[0]}, plan.steps[plan.analysis_steps[0]]]
    with scenario.given("version a, Healthy, with the analysis thresholds made unfailable"):
        scenario.install("a", **NEVER_FAILING, rollouts={"canary": {"steps": short}})
        stable = scenario.rollout().stable_hash
    with scenario.when(f"version b is deployed with errors, latency and restarts: {env}"):
        scenario.update("b", extraEnv=env)
    with scenario.then("the bad version is promoted: every step done, never aborted"):
        # Promoted is the last step reached (setWeight 100), not Healthy: on real pods a
        # crashing b is never all available at once, so the controller never calls it stable;
        # what matters is that the analysis let it through.
        def promoted(rollout: Rollout) -> str | None:
            # Reconciled and on b's hash: until then the status still shows a's last step.
            on_b = rollout.reconciled and rollout.current_hash not in (None, stable)
            done = on_b and rollout.step_index == len(short)
            return None if done and not rollout.aborted else rollout.describe()

        scenario.expect(promoted, "promoted: every step done", 60 + plan.pod_start)
        assert not scenario.rollout().aborted
    with scenario.and_("its AnalysisRun was Successful, every metric measured"):
        runs = scenario.analysis_runs_for(scenario.rollout().current_hash)
        summaries = [r.summary() for r in runs]
        assert [r.phase for r in runs] == ["Successful"], summaries
        metrics = runs[0].metrics
        assert sorted(m.name for m in metrics) == sorted(BAD_VERSIONS.values())
        assert all(m.phase == "Successful" and m.count >= 2 for m in metrics), summaries
    with scenario.and_("the faults were real: the pods of b restarted"):
        assert scenario.restarts() > 0
