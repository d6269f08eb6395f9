"""The current revision's pods: no container restarts beyond the threshold, spread over
enough zones; the PodDisruptionBudget allows a disruption; the HPA has headroom."""

from __future__ import annotations

from typing import Any

import pytest

from fixtures.core.kube import Kube
from fixtures.validate.environment import Environment
from fixtures.validate.state import Workload, restarts, zones_of
from fixtures.validate.summary import CheckRecord


def test_restarts_since_revision(
    workload: Workload, current_pods: list[dict[str, Any]], environment: Environment,
    check: CheckRecord,
) -> None:  # fmt: skip
    total, lines = restarts(current_pods)
    limit = environment.max_restarts
    check.record(
        f"{total} in {len(current_pods)} pods of {workload.current_hash}"
        + (f" ({lines[0]}{', ...' if len(lines) > 1 else ''})" if lines else ""),
        f"<= {limit}",
    )
    check.expect(
        None
        if total <= limit
        else f"container restarts of {workload.ref}'s revision {workload.current_hash} to be at "
        f"most {limit} (restarts.max_since_revision of {environment.file.name}), is {total}: "
        + "; ".join(lines)
    )


def test_pods_span_zones(
    kube: Kube, current_pods: list[dict[str, Any]], environment: Environment, check: CheckRecord
) -> None:
    nodes = kube.list("/api/v1/nodes")
    zones = zones_of(current_pods, nodes)
    spread = ", ".join(f"{zone} {count}" for zone, count in sorted(zones.items()))
    check.record(f"{len(zones)} zones ({spread or 'no ready pods'})", f">= {environment.min_zones}")
    check.expect(
        None
        if len(zones) >= environment.min_zones
        else f"the ready pods of {environment.namespace}/{environment.release} to span at least "
        f"{environment.min_zones} zones (topology.min_zones), span {len(zones)}: {spread or 'none'}"
    )


def test_pdb_allows_disruption(kube: Kube, environment: Environment, check: CheckRecord) -> None:
    pdbs = kube.list(
        f"/apis/policy/v1/namespaces/{environment.namespace}/poddisruptionbudgets",
        f"app.kubernetes.io/instance={environment.release}",
    )
    if not pdbs:
        check.record("no PodDisruptionBudget", ">= 1 disruption allowed")
        check.expect(
            f"a PodDisruptionBudget labelled app.kubernetes.io/instance={environment.release} "
            f"in namespace {environment.namespace} to exist, there is none"
        )
    problems, seen = [], []
    for pdb in pdbs:
        status = pdb.get("status") or {}
        allowed = int(status.get("disruptionsAllowed") or 0)
        name = pdb["metadata"]["name"]
        seen.append(
            f"{name}: {allowed} allowed ({status.get('currentHealthy', '?')} healthy, "
            f"{status.get('desiredHealthy', '?')} needed)"
        )
        if allowed < 1:
            problems.append(
                f"PodDisruptionBudget {environment.namespace}/{name} to allow at least 1 "
                f"disruption, allows {allowed} (currentHealthy {status.get('currentHealthy')}, "
                f"desiredHealthy {status.get('desiredHealthy')}, expectedPods "
                f"{status.get('expectedPods')}): a node drain would block"
            )
    check.record("; ".join(seen), ">= 1 disruption allowed")
    check.expect("; ".join(problems) or None)


def test_hpa_not_pegged(kube: Kube, environment: Environment, check: CheckRecord) -> None:
    hpas = kube.list(
        f"/apis/autoscaling/v2/namespaces/{environment.namespace}/horizontalpodautoscalers",
        f"app.kubernetes.io/instance={environment.release}",
    )
    if not hpas:
        check.expected("current < max")
        pytest.skip(f"no HorizontalPodAutoscaler for {environment.release} (autoscaling disabled)")
    problems, seen = [], []
    for hpa in hpas:
        spec, status = hpa.get("spec") or {}, hpa.get("status") or {}
        name, maximum = hpa["metadata"]["name"], int(spec.get("maxReplicas") or 0)
        current = int(status.get("currentReplicas") or 0)
        desired = int(status.get("desiredReplicas") or 0)
        seen.append(f"{name}: current {current}, desired {desired}, max {maximum}")
        if max(current, desired) >= maximum:
            limited: dict[str, Any] = next(
                (c for c in status.get("conditions") or [] if c.get("type") == "ScalingLimited"),
                {},
            )
            problems.append(
                f"HorizontalPodAutoscaler {environment.namespace}/{name} to be below its maximum "
                f"{maximum}, is at {max(current, desired)} ({limited.get('reason', '')} "
                f"{limited.get('message', '')}): no headroom left for load"
            )
    check.record("; ".join(seen), "current < max")
    check.expect("; ".join(problems) or None)
