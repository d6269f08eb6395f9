"""Faults of the platform itself during a canary (issue 6, scenario 9).

1. Prometheus unreachable during analysis: every measurement errors; after
   `analysis.consecutiveErrorLimit` errors in a row the AnalysisRun is Error, which the
   chart's templates treat like Failed: the rollout aborts and never promotes the canary.
2. The Argo Rollouts controller killed and restarted mid-rollout: the rollout waits while
   it is gone and, once it is back, resumes where it was and completes, every step walked
   and every analysis Successful.

On kind the components are Deployments, scaled to zero and back
(fixtures.e2e.components), restored whatever happens. On the lab, where the tier runs on
pytest-xdist workers beside it:

- Prometheus stays up for everyone else: the scenario's analysis queries it through a gate
  of its own (`fixtures.core.tcpgate`, a loopback forwarder) and the gate is shut, so this
  rollout's measurements meet a refused connection, exactly what the controller sees of a
  Prometheus that is down, and the test needs nothing to itself.
- The controller is every rollout's: its test is marked `serial` and runs with no other
  test of the session (fixtures/e2e/parallel.py); the lab process is stopped and started
  with fixtures.lab.control_plane. Another session on the cluster would see the same
  outage for those seconds.

Replicas and weights are the platform's (its first two canary weights): 20 simulated pods
at 5% and 20% in the lab, 5 real ones at 20% and 40% on kind.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlparse

import pytest

from fixtures.cluster import Cluster
from fixtures.core.kube import hold_for, wait_until
from fixtures.core.tcpgate import TcpGate
from fixtures.e2e import components
from fixtures.e2e.scenario import Scenario
from fixtures.traffic.simulated import TrafficProcess

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def given_a_short_canary(
    scenario: Scenario, **overrides: Any
) -> tuple[str | None, list[dict[str, Any]]]:
    """Given version a, Healthy and serving, whose canary steps are the platform's first two
    weights, each followed by an analysis; returns a's pod hash and those steps."""
    plan = scenario.canary_plan()
    steps: list[dict[str, Any]] = []
    for weight in plan.weights[:2]:
        steps += [{"setWeight": weight}, {"analysis": {"count": 2}}]
    with scenario.given(f"version a on {plan.replicas} replicas, Healthy, serving traffic"):
        scenario.install("a", rollouts={"canary": {"steps": steps}}, **overrides)
        return scenario.rollout().stable_hash, steps


@pytest.fixture
def prometheus_gate(scenario: Scenario) -> Iterator[TcpGate | None]:
    """On the lab, a gate of this scenario's own in front of the lab's Prometheus (None
    elsewhere: kind scales its Prometheus down, in a tier that runs in one process)."""
    if scenario.cluster.provider != "lab":
        yield None
        return
    address = urlparse(scenario.effective_values()["analysis"]["prometheus"]["address"])
    assert address.hostname and address.port, f"the lab's Prometheus address: {address}"
    with TcpGate(address.hostname, address.port) as gate:
        yield gate


@pytest.fixture
def lab_components(cluster: Cluster) -> Iterator[list[str]]:
    """Names of the platform's components a test stopped; each is started again afterwards."""
    if cluster.provider not in components.PROVIDERS:
        pytest.skip(f"stops and starts the platform's components: not on {cluster.provider}")
    stopped: list[str] = []
    yield stopped
    for name in stopped:
        components.start(cluster, name)


def test_prometheus_unreachable_stops_the_promotion(
    scenario: Scenario,
    analysis: TrafficProcess,
    lab_components: list[str],
    prometheus_gate: TcpGate | None,
) -> None:
    gate = prometheus_gate
    through = {} if gate is None else {"analysis": {"prometheus": {"address": gate.url}}}
    stable, steps = given_a_short_canary(scenario, **through)
    with scenario.and_("a good version b whose first analysis is running"):
        scenario.update("b")
        scenario.expect_step(1, timeout=30 + scenario.platform.pod_start_seconds)
        canary = scenario.rollout().current_hash

    with scenario.recorder() as recorder:
        with scenario.when("Prometheus becomes unreachable"):
            if gate is not None:
                gate.shut()  # the lab: this analysis' way to Prometheus (see above)
            else:
                lab_components.append("prometheus")
                components.stop(scenario.cluster, "prometheus")
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
            address = urlparse(scenario.effective_values()["analysis"]["prometheus"]["address"])
            assert str(address.netloc) in messages or "connection refused" in messages, messages
        with scenario.and_("the rollout aborts instead of promoting: Degraded, all pods on a"):
            scenario.expect_aborted(timeout=30)
            assert scenario.rollout().stable_hash == stable
    with scenario.and_("the canary never got past its first weight"):
        assert recorder.max_set_weight() <= steps[0]["setWeight"], recorder.table()

    with scenario.when("Prometheus is back"):
        if gate is not None:
            gate.open()
        else:
            lab_components.remove("prometheus")
            components.start(scenario.cluster, "prometheus")
    with scenario.then("the rollout stays where the analysis left it: aborted, a stable"):

        def where_left() -> str | None:
            rollout = scenario.rollout()
            return None if rollout.aborted and rollout.stable_hash == stable else rollout.describe()

        hold_for(where_left, "the rollout to stay aborted on a", 2)


# It stops what every scenario uses: under pytest-xdist nothing else runs meanwhile.
@pytest.mark.serial
def test_controller_restart_mid_rollout_resumes_and_completes(
    scenario: Scenario, analysis: TrafficProcess, lab_components: list[str]
) -> None:
    _, steps = given_a_short_canary(scenario)

    with scenario.recorder() as recorder:
        with scenario.when("version b is deployed and its first analysis is running"):
            scenario.update("b")
            scenario.expect_step(1, timeout=30 + scenario.platform.pod_start_seconds)
            canary = scenario.rollout().current_hash
        with scenario.and_("the Argo Rollouts controller is killed"):
            lab_components.append("rollouts-controller")
            components.stop(scenario.cluster, "rollouts-controller")
            step_when_killed = scenario.rollout().step_index
        with scenario.then("nothing moves while it is gone (8 s)"):

            def still() -> str | None:
                rollout = scenario.rollout()
                return None if rollout.step_index == step_when_killed else rollout.describe()

            hold_for(still, f"the rollout to stay at step {step_when_killed}", 8)
        with scenario.when("the controller is started again"):
            lab_components.remove("rollouts-controller")
            components.start(scenario.cluster, "rollouts-controller")
        with scenario.then("the rollout resumes and completes: Healthy on b"):
            scenario.expect_healthy("b", timeout=90 + 3 * scenario.platform.pod_start_seconds)

    with scenario.and_("every step was walked, in order, none skipped"):
        walked = recorder.step_order(canary)
        first = walked[0] if walked and walked[0] is not None else -1
        assert 0 <= first <= 1, recorder.table()
        assert walked == list(range(first, len(steps) + 1)), recorder.table()
    with scenario.and_("every AnalysisRun of b was Successful"):
        runs = scenario.analysis_runs_for(canary)
        assert [r.phase for r in runs] == ["Successful", "Successful"], [r.summary() for r in runs]
