"""The statistical canary judge in the analysis (issue 16, docs/judge.md).

The chart's thresholds (success rate >= 99%, p99 < 500 ms, no restarts) cannot see a canary
that is clearly worse than the version it replaces but still inside them. With
`analysis.judge.enabled` every canary analysis step also runs the judge's `web` metric: the
canary's latency and errors against the stable ReplicaSet's, over the same window. The
scenarios switch it on through their values, which starts the judge beside the lab's
Prometheus (fixtures/e2e/judge.py; `make lab-down` stops it).

- A canary whose requests are slower by a fixed amount that keeps its p99 well under the
  500 ms threshold is aborted by the judge, and by the judge alone: the three threshold
  metrics pass, the p99 they measured is under 500 ms, the judge's metric fails.
- A canary of the stable's own image (an A/A test: a new revision that changes nothing but
  an annotation) is promoted: every judge measurement of every step passes.

Marked `real_node`: with `--real-node` the pods are real service processes serving wrk's
requests through the Service (`make e2e-real-node E2E_ARGS="-k judge"`); on the lab's
simulated nodes the simulated traffic obeys the same fault env.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests

from fixtures.core.rollout import AnalysisRun, MetricResult, Rollout
from fixtures.e2e.plan import CanaryPlan, fault_env
from fixtures.e2e.scenario import Scenario
from fixtures.traffic.load import ServiceLoad
from fixtures.traffic.simulated import TrafficProcess

pytestmark = pytest.mark.e2e

Traffic = TrafficProcess | ServiceLoad

THRESHOLD_METRICS = {"success-rate", "latency-p99", "restarts"}
JUDGE_METRIC = "judge"  # the metric of the chart's judge template (analysistemplates.yaml)
# Added to every API request of the bad canary: a few times the stable's latency (tens of
# ms on the real node, a few on the simulated one) and far under the 500 ms p99 threshold,
# in the histogram's 0.1-0.25 s bucket even with a loaded machine's own delay on top.
SLOWER_MS = 100


def judge_values(scenario: Scenario) -> dict[str, Any]:
    """The judge on; the canary steps cut to the first two weights (the A/A run still
    judges a step with one canary pod and one with more); the first measurement 15 s into
    a step and at least 30 requests a side, so one canary pod under the platform's traffic
    (the real node: wrk's ~20 requests/s through the Service, a fifth of them to the canary;
    the simulated nodes: 10 a second per pod) has a sample by then."""
    steps = scenario.canary_plan().steps
    first_two = steps[: next(i for i, s in enumerate(steps[2:], 2) if "analysis" in s) + 1]
    return {
        "analysis": {"initialDelay": "15s", "judge": {"enabled": True, "minRequests": 30}},
        "rollouts": {"canary": {"steps": first_two}},
    }


def measured_values(metric: MetricResult) -> list[str]:
    """Each measurement's value; a web metric's is the JSON its jsonPath selected ('"fail"')."""
    return [str(m.get("value")).strip('"') for m in metric.measurements]


def ask_judge(scenario: Scenario, canary: str | None, stable: str | None, end: float) -> Any:
    """The judge's whole answer (every metric's verdict) about the window the analysis
    judged, as the chart's metric asks it (its URL and thresholds from the values)."""
    judge = scenario.effective_values()["analysis"]["judge"]
    body = {
        "namespace": scenario.namespace, "canaryHash": canary, "baselineHash": stable,
        "window": judge["window"], "end": end, "minRequests": judge["minRequests"],
    }  # fmt: skip
    response = requests.post(f"{judge['url'].rstrip('/')}/v1/judge", json=body, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def metric(run: AnalysisRun, name: str) -> MetricResult:
    found = [m for m in run.metrics if m.name == name]
    assert found, f"metric {name} in {run.summary()}"
    return found[0]


@pytest.mark.real_node
def test_judge_aborts_a_canary_slower_inside_the_thresholds(
    scenario: Scenario, analysis: Traffic
) -> None:
    env = fault_env(latency_ms=SLOWER_MS)
    with scenario.given("version a with the judge in its analysis, Healthy, serving traffic"):
        scenario.install("a", **judge_values(scenario))
        stable = scenario.rollout().stable_hash
    deployed = scenario.deploy_bad_canary("b", env, f"{SLOWER_MS} ms slower")
    aborted, canary = deployed.aborted, deployed.canary
    runs = scenario.analysis_runs_for(canary)
    summaries = [r.summary() for r in runs]
    with scenario.and_("the AnalysisRun failed on the judge, and only on the judge"):
        assert [r.phase for r in runs] == ["Failed"], summaries
        assert runs[0].metrics_in("Failed") == {JUDGE_METRIC}, summaries
        judged = metric(runs[0], JUDGE_METRIC)
        verdicts = measured_values(judged)
        # failureLimit 1: the second failed measurement aborts; "fail" is the judge's verdict
        # that the canary is worse (a first one may be "inconclusive": too few requests yet).
        failed = [m for m in judged.measurements if m.get("phase") == "Failed"]
        assert len(failed) >= 2 and verdicts[-1] == "fail", verdicts
    with scenario.and_("the three threshold metrics passed every measurement they made"):
        for name in sorted(THRESHOLD_METRICS):
            result = metric(runs[0], name)
            phases = [m.get("phase") for m in result.measurements]
            assert result.phase == "Successful" and phases, f"{name}: {result.summary()}"
            assert set(phases) == {"Successful"}, f"{name}: {phases}"
    with scenario.and_("the canary's p99 the threshold measured stayed under 500 ms"):
        # a Prometheus metric's value is the query's result vector: "[0.2375]"
        p99s = [float(json.loads(v)[0]) for v in measured_values(metric(runs[0], "latency-p99"))]
        maximum = float(scenario.effective_values()["analysis"]["latency"]["maximumSeconds"])
        assert p99s and max(p99s) < maximum, p99s
        scenario.record("canary_p99_seconds", p99s)
    with scenario.and_(f"all traffic is back on a (the stable {stable})"):
        assert scenario.rollout().stable_hash == stable
        scenario.expect_selector(f"{scenario.name}-canary", stable)
    first_bad = runs[0].first_bad_measurement()
    assert first_bad is not None, summaries
    with scenario.and_("asked again about that window, the judge names latency as worse"):
        verdict = ask_judge(scenario, canary, stable, end=first_bad)
        failing = [m["name"] for m in verdict["metrics"] if m["verdict"] == "fail"]
        assert verdict["result"] == "fail" and "latency" in failing, verdict
        assert "errors" not in failing, verdict
        scenario.record("judge_reason", verdict["reason"])
    scenario.record("judge_verdicts", verdicts)
    scenario.record("abort_seconds_after_update", round(aborted.at - deployed.updated_at, 1))
    scenario.record("abort_seconds_after_first_bad_measurement", round(aborted.at - first_bad, 1))
    scenario.record("analysis_interval_seconds", scenario.canary_plan().interval)


@pytest.mark.real_node
def test_judge_promotes_a_canary_of_the_stable_image(scenario: Scenario, analysis: Traffic) -> None:
    with scenario.given("version a with the judge in its analysis, Healthy, serving traffic"):
        scenario.install("a", **judge_values(scenario))
        stable = scenario.rollout().stable_hash
    plan: CanaryPlan = scenario.canary_plan()

    def promoted_new_revision(rollout: Rollout) -> str | None:
        if rollout.current_hash == stable:
            return f"still on revision {stable}: {rollout.describe()}"
        if rollout.stable_hash != rollout.current_hash:
            return rollout.describe()
        return rollout.health()

    with scenario.when("a new revision of the same image a is deployed (only an annotation)"):
        scenario.update("a", podAnnotations={"e2e.sre-platform.io/a-a": "second"})
    with scenario.then("it walks every step and is promoted: Healthy on the new revision"):
        scenario.expect(promoted_new_revision, "Healthy on a new revision of a",
                        timeout=plan.rollout_timeout())  # fmt: skip

    canary = scenario.rollout().current_hash
    runs = scenario.analysis_runs_for(canary)
    summaries = [r.summary() for r in runs]
    with scenario.and_(f"{len(plan.analysis_steps)} AnalysisRuns, each Successful (judge too)"):
        assert len(runs) == len(plan.analysis_steps), summaries
        verdicts = []
        for run in runs:
            assert run.phase == "Successful", summaries
            assert {m.name for m in run.metrics} == THRESHOLD_METRICS | {JUDGE_METRIC}, summaries
            judged = metric(run, JUDGE_METRIC)
            assert judged.phase == "Successful" and judged.count >= 2, summaries
            verdicts += measured_values(judged)
        assert "pass" in verdicts, verdicts
        scenario.record("judge_verdicts", verdicts)
