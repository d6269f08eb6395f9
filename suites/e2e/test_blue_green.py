"""Blue-green releases (issue 6, scenario 6): preview, analysis, manual switch, switch back.

The chart with `rollouts.strategy: blueGreen`: `sre-platform` is the active Service and
`sre-platform-preview` the preview; pre-promotion analysis judges the preview's pods, the
switch waits for `scripts/promote-canary.sh promote` (autoPromotionEnabled: false), the
post-promotion analysis judges the new version under the active Service, and a failure
there switches the active Service back. The old ReplicaSet stays for
`scaleDownDelaySeconds` (shortened here through values to a few seconds).
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from fixtures import traffic
from fixtures.deploy import deep_merge
from fixtures.kube import wait_until
from fixtures.rollouts import HASH_LABEL, Scenario, fault_env, parse_time, run_summary

pytestmark = pytest.mark.e2e

REPLICAS = 4
SCALE_DOWN_DELAY = 5
SCALE_DOWN_ANNOTATION = "scale-down-deadline"  # Argo Rollouts sets it unprefixed
BLUE_GREEN: dict[str, Any] = {
    "replicaCount": REPLICAS,
    "rollouts": {
        "strategy": "blueGreen",
        "blueGreen": {"scaleDownDelaySeconds": SCALE_DOWN_DELAY, "autoPromotionEnabled": False},
    },
}


def selector_hash(scenario: Scenario, service: str) -> str | None:
    spec = scenario.cluster.core.read_namespaced_service(service, scenario.namespace).spec
    return (spec.selector or {}).get(HASH_LABEL)


def runs_of_type(scenario: Scenario, kind: str) -> list[dict[str, Any]]:
    """AnalysisRuns by the controller's rollout-type label (PrePromotion, PostPromotion)."""
    return [
        r
        for r in scenario.analysis_runs()
        if r["metadata"].get("labels", {}).get("rollout-type") == kind
    ]


def wait_run(scenario: Scenario, kind: str, phase: str, timeout: float = 60) -> dict[str, Any]:
    def check() -> str | None:
        runs = runs_of_type(scenario, kind)
        if runs and runs[-1].get("status", {}).get("phase") == phase:
            return None
        return "; ".join(run_summary(r) for r in runs) or "no run yet"

    wait_until(check, f"the {kind} AnalysisRun to be {phase}", timeout)
    return runs_of_type(scenario, kind)[-1]


def promote(scenario: Scenario) -> None:
    result = scenario.script(
        "scripts/promote-canary.sh", "promote", "lab", scenario.name, *scenario.cluster_args()
    )
    assert result.returncode == 0, str(result)


def test_blue_green_switches_only_on_promote_and_keeps_the_old_version(
    scenario: Scenario, analysis: traffic.TrafficProcess
) -> None:
    active, preview = scenario.name, f"{scenario.name}-preview"
    with scenario.given(f"blue-green version a on {REPLICAS} replicas, Healthy, with traffic"):
        scenario.install("a", **BLUE_GREEN)
        blue = scenario.rollout()["status"]["stableRS"]
        assert selector_hash(scenario, active) == blue

    with scenario.when("version b is deployed"):
        scenario.update("b")
    with scenario.then("b comes up behind the preview Service, a stays active"):
        scenario.expect(
            lambda r: (
                None
                if r["status"].get("currentPodHash") != blue
                and selector_hash(scenario, preview) == r["status"]["currentPodHash"]
                else "preview not on the new ReplicaSet yet"
            ),
            "previewing the new version",
            30,
        )
        green = scenario.rollout()["status"]["currentPodHash"]
        assert selector_hash(scenario, active) == blue
    with scenario.and_("the pre-promotion analysis of b's pods is Successful"):
        run = wait_run(scenario, "PrePromotion", "Successful")
        assert run["metadata"]["labels"].get(HASH_LABEL) == green, run_summary(run)
    with scenario.and_("nothing switches without a promote: Paused, a still active"):
        scenario.expect(
            lambda r: None if r["status"].get("phase") == "Paused" else r["status"].get("phase"),
            "Paused awaiting promotion",
            20,
        )
        time.sleep(2)  # a moment in which a wrong auto-promotion would happen
        assert selector_hash(scenario, active) == blue

    with scenario.when("scripts/promote-canary.sh promote is run"):
        promote(scenario)
        switched_at = time.time()
    with scenario.then("the active Service selects b"):
        wait_until(
            lambda: None if selector_hash(scenario, active) == green else "still on a",
            "the active Service to select b",
            30,
        )
    with scenario.and_("the post-promotion analysis is Successful and the rollout Healthy on b"):
        wait_run(scenario, "PostPromotion", "Successful")
        scenario.expect_healthy("b", timeout=30)
        healthy_at = time.time()
    with scenario.and_(f"a's ReplicaSet stays up {SCALE_DOWN_DELAY}s after the switch completes"):
        seen: dict[str, Any] = {}

        def scaled_down() -> str | None:
            rs = scenario.cluster.apps.read_namespaced_replica_set(
                f"{scenario.name}-{blue}", scenario.namespace
            )
            deadline = (rs.metadata.annotations or {}).get(SCALE_DOWN_ANNOTATION)
            if deadline:
                seen["deadline"] = deadline
            if rs.spec.replicas:
                return f"{rs.spec.replicas} replicas, scale-down deadline {deadline}"
            return None

        wait_until(scaled_down, "a's ReplicaSet to be scaled down", SCALE_DOWN_DELAY + 30)
        kept = time.time() - healthy_at
        assert kept >= SCALE_DOWN_DELAY - 1, f"scaled down {kept:.1f}s after the switch"
        deadline = parse_time(seen.get("deadline"))
        assert deadline is not None, "the controller never set the scale-down deadline"
        assert abs(deadline - (healthy_at + SCALE_DOWN_DELAY)) <= 3, (deadline, healthy_at)
        scenario.record("old_replicaset_kept_seconds", round(kept, 1))
        scenario.record("promote_to_healthy_seconds", round(healthy_at - switched_at, 1))


def test_failing_post_promotion_analysis_switches_back(
    scenario: Scenario, analysis: traffic.TrafficProcess
) -> None:
    active = scenario.name
    with scenario.given("blue-green version a, Healthy; pre-promotion analysis off"):
        no_pre = {"rollouts": {"blueGreen": {"prePromotionAnalysis": {"enabled": False}}}}
        scenario.install("a", **deep_merge(BLUE_GREEN, no_pre))
        blue = scenario.rollout()["status"]["stableRS"]
    with scenario.and_("version b, answering 20% errors, waiting on the preview"):
        scenario.update("b", extraEnv=fault_env(error_rate=0.2))
        scenario.expect(
            lambda r: (
                None
                if r["status"].get("phase") == "Paused"
                and r["status"].get("currentPodHash") != blue
                else r["status"].get("phase")
            ),
            "Paused with b on the preview",
            30,
        )
        green = scenario.rollout()["status"]["currentPodHash"]

    with scenario.when("it is promoted"):
        promote(scenario)
    with scenario.then("the active Service switches to b"):
        wait_until(
            lambda: None if selector_hash(scenario, active) == green else "still on a",
            "the active Service to select b",
            30,
        )
    with scenario.and_("the post-promotion analysis fails on the success rate"):
        run = wait_run(scenario, "PostPromotion", "Failed")
        failed = {m["name"] for m in run["status"]["metricResults"] if m["phase"] == "Failed"}
        assert failed == {"success-rate"}, run_summary(run)
    with scenario.and_("the rollout aborts and the active Service is switched back to a"):
        scenario.expect(
            lambda r: (
                None
                if r["status"].get("abort") and r["status"].get("phase") == "Degraded"
                else r["status"].get("phase")
            ),
            "aborted (Degraded)",
            30,
        )
        wait_until(
            lambda: None if selector_hash(scenario, active) == blue else "still on b",
            "the active Service to select a again",
            30,
        )
        assert scenario.rollout()["status"]["stableRS"] == blue
