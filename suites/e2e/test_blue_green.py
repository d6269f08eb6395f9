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

from fixtures.core.helm import deep_merge
from fixtures.core.kube import hold_for, wait_until
from fixtures.core.rollout import parse_time
from fixtures.e2e.plan import fault_env
from fixtures.e2e.scenario import Scenario
from fixtures.traffic.simulated import TrafficProcess

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


def promote(scenario: Scenario) -> None:
    result = scenario.script(
        "scripts/promote-canary.sh", "promote", "lab", scenario.name, *scenario.cluster_args()
    )
    assert result.returncode == 0, str(result)


def test_blue_green_switches_only_on_promote_and_keeps_the_old_version(
    scenario: Scenario, analysis: TrafficProcess
) -> None:
    active, preview = scenario.name, f"{scenario.name}-preview"
    with scenario.given(f"blue-green version a on {REPLICAS} replicas, Healthy, with traffic"):
        scenario.install("a", **BLUE_GREEN)
        blue = scenario.rollout().stable_hash
        assert scenario.selector_hash(active) == blue

    with scenario.when("version b is deployed"):
        scenario.update("b")
    with scenario.then("b comes up behind the preview Service, a stays active"):
        scenario.expect(
            lambda r: (
                None
                if r.current_hash != blue and scenario.selector_hash(preview) == r.current_hash
                else "preview not on the new ReplicaSet yet"
            ),
            "previewing the new version",
            30 + scenario.platform.pod_start_seconds,
        )
        green = scenario.rollout().current_hash
        assert scenario.selector_hash(active) == blue
    with scenario.and_("the pre-promotion analysis of b's pods is Successful"):
        run = scenario.expect_analysis_run("PrePromotion", "Successful")
        assert run.pod_hash == green, run.summary()
    with scenario.and_("nothing switches without a promote: Paused, a still active"):
        scenario.expect(
            lambda r: None if r.phase == "Paused" else r.phase, "Paused awaiting promotion", 20
        )
        # A moment in which a wrong auto-promotion would happen.
        hold_for(
            lambda: None if scenario.selector_hash(active) == blue else "switched to b",
            "the active Service to stay on a", 2,
        )  # fmt: skip

    with scenario.when("scripts/promote-canary.sh promote is run"):
        promote(scenario)
        switched_at = time.time()
    with scenario.then("the active Service selects b"):
        scenario.expect_selector(active, green)
    with scenario.and_("the post-promotion analysis is Successful and the rollout Healthy on b"):
        scenario.expect_analysis_run("PostPromotion", "Successful")
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
    scenario: Scenario, analysis: TrafficProcess
) -> None:
    active = scenario.name
    with scenario.given("blue-green version a, Healthy; pre-promotion analysis off"):
        no_pre = {"rollouts": {"blueGreen": {"prePromotionAnalysis": {"enabled": False}}}}
        scenario.install("a", **deep_merge(BLUE_GREEN, no_pre))
        blue = scenario.rollout().stable_hash
    with scenario.and_("version b, answering 20% errors, waiting on the preview"):
        scenario.update("b", extraEnv=fault_env(error_rate=0.2))
        scenario.expect(
            lambda r: None if r.phase == "Paused" and r.current_hash != blue else r.phase,
            "Paused with b on the preview",
            30 + scenario.platform.pod_start_seconds,
        )
        green = scenario.rollout().current_hash

    with scenario.when("it is promoted"):
        promote(scenario)
    with scenario.then("the active Service switches to b"):
        scenario.expect_selector(active, green)
    with scenario.and_("the post-promotion analysis fails on the success rate"):
        run = scenario.expect_analysis_run("PostPromotion", "Failed")
        assert run.metrics_in("Failed") == {"success-rate"}, run.summary()
    with scenario.and_("the rollout aborts and the active Service is switched back to a"):
        scenario.expect(
            lambda r: None if r.aborted and r.phase == "Degraded" else r.phase,
            "aborted (Degraded)",
            30,
        )
        scenario.expect_selector(active, blue)
        assert scenario.rollout().stable_hash == blue
