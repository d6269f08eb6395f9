"""Production's topology rules place replicas in every zone (issue 6, scenario 10).

The chart with `helm/values-production.yaml` as it is, applied to the lab's three kwok
nodes (zone-a, zone-b, zone-c): the HorizontalPodAutoscaler brings the Rollout to its
minimum of 6 replicas, and the zone spread (maxSkew 1, DoNotSchedule) with the soft
hostname spread must put two pods in each zone. Only the ServiceMonitor is switched off:
the lab has no Prometheus operator to own its CRD.
"""

from __future__ import annotations

from collections import Counter

import pytest
import yaml

from fixtures.core.helm import CHART
from fixtures.e2e.scenario import Scenario

pytestmark = pytest.mark.e2e

PRODUCTION = CHART / "values-production.yaml"
ZONE = "topology.kubernetes.io/zone"


def test_production_spread_puts_replicas_in_all_three_zones(scenario: Scenario) -> None:
    production = yaml.safe_load(PRODUCTION.read_text())
    minimum = int(production["autoscaling"]["minReplicas"])
    zones = {
        n.metadata.name: n.metadata.labels.get(ZONE)
        for n in scenario.cluster.core.list_node().items
    }
    assert len(set(zones.values()) - {None}) >= 3, f"the cluster has too few zones: {zones}"

    with scenario.given("the chart with production's values (HPA, zone spread, anti-affinity)"):
        scenario.environment_values = PRODUCTION
        scenario.install(
            str(production["image"]["tag"]), metrics={"serviceMonitor": {"enabled": False}}
        )
    with scenario.when(f"the autoscaler brings the Rollout to its minimum of {minimum}"):
        scenario.expect(
            lambda r: None if r.available == minimum and r.phase == "Healthy" else r.describe(),
            f"Healthy with {minimum} available replicas",
            90 + 2 * scenario.platform.pod_start_seconds,
        )
    with scenario.then("its pods run in all three zones, evenly (max skew 1)"):
        pods = [
            p
            for p in scenario.cluster.core.list_namespaced_pod(scenario.namespace).items
            if p.metadata.deletion_timestamp is None and p.status.phase == "Running"
        ]
        per_zone = Counter(zones.get(p.spec.node_name) for p in pods)
        assert len(pods) == minimum, [p.metadata.name for p in pods]
        assert set(per_zone) == set(zones.values()) - {None}, per_zone  # kind: control plane
        assert max(per_zone.values()) - min(per_zone.values()) <= 1, per_zone
    with scenario.and_("the Rollout carries production's spread rule, as rendered by the chart"):
        spread = scenario.rollout().spec["template"]["spec"]["topologySpreadConstraints"]
        zone_rule = next(c for c in spread if c["topologyKey"] == ZONE)
        assert (zone_rule["maxSkew"], zone_rule["whenUnsatisfiable"]) == (1, "DoNotSchedule")
        hpas = scenario.cluster.kube.list(
            f"/apis/autoscaling/v2/namespaces/{scenario.namespace}/horizontalpodautoscalers"
        )
        hpa = str(hpas[0]["spec"]["minReplicas"]) if hpas else ""
        assert hpa == str(minimum)
