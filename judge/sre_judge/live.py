"""For the validate tier: the live environment's current revision against the previous one.

After a full promotion the previous revision serves nothing any more, so the two cannot be
compared over the same window as a canary and its stable are. Instead:

  - current revision: the last `window` before now;
  - previous revision: the last `window` in which it still served requests (found in
    Prometheus, up to `lookback` back: normally the end of the rollout).

Read-only: Prometheus queries only. The caller (suites/validate) knows the revisions from
the cluster: `revisions_of(rollout, replicasets)` picks them from the Rollout's status and
its ReplicaSets' `rollout.argoproj.io/revision` annotations (plain dicts, as the
Kubernetes API returns them), so this package needs no Kubernetes client.

Caveat (docs/judge.md): the windows are at different times, so load and time of day do
not cancel out as in a canary; keep the verdict advisory unless the windows are close.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .compare import compare_windows
from .model import Judgement, Thresholds
from .prometheus import Prometheus, string_literal
from .series import HASH_LABEL, REQUESTS, UnknownRevision

REVISION_ANNOTATION = "rollout.argoproj.io/revision"
POD_TEMPLATE_HASH = "rollouts-pod-template-hash"
DEFAULT_LOOKBACK_SECONDS = 6 * 3600.0


@dataclass(frozen=True)
class Revisions:
    current: str
    previous: str | None


def _get(obj: Mapping[str, Any], *path: str) -> Any:
    node: Any = obj
    for key in path:
        node = node.get(key) if isinstance(node, Mapping) else None
    return node


def revisions_of(rollout: Mapping[str, Any], replicasets: Iterable[Mapping[str, Any]]) -> Revisions:
    """The Rollout's current (stable) pod-template hash and the one of the ReplicaSet with
    the highest revision number below the current one's."""
    current = _get(rollout, "status", "stableRS") or _get(rollout, "status", "currentPodHash")
    if not current:
        raise ValueError("the Rollout has no status.stableRS: it never became healthy")
    numbered: list[tuple[int, str]] = []
    for rs in replicasets:
        pod_hash = _get(rs, "metadata", "labels", POD_TEMPLATE_HASH)
        revision = _get(rs, "metadata", "annotations", REVISION_ANNOTATION)
        if pod_hash and str(revision or "").isdigit():
            numbered.append((int(revision), str(pod_hash)))
    current_revision = next((n for n, h in numbered if h == current), None)
    if current_revision is None:
        raise ValueError(f"no ReplicaSet carries the current hash {current}")
    earlier = sorted((n, h) for n, h in numbered if n < current_revision)
    return Revisions(str(current), earlier[-1][1] if earlier else None)


def last_served(
    prometheus: Prometheus,
    namespace: str,
    revision: str,
    before: float,
    lookback: float = DEFAULT_LOOKBACK_SECONDS,
) -> float | None:
    """The last scrape (unix seconds, at most `before`) at which the revision's request
    counters had grown since the previous scrape; None if they never grew in `lookback`."""
    selector = (
        f"{REQUESTS}{{namespace={string_literal(namespace)}, "
        f"{HASH_LABEL}={string_literal(revision)}}}"
    )
    latest: float | None = None
    for series in prometheus.range_selector(selector, lookback, before):
        previous: float | None = None
        for t, value in series.samples:
            # grown, or reset by a restart and grown again since
            if previous is not None and (value > previous or 0 < value < previous):
                latest = t if latest is None else max(latest, t)
            previous = value
    return latest


def judge_live(
    prometheus_url: str,
    namespace: str,
    current: str,
    previous: str,
    window_seconds: float,
    thresholds: Thresholds | None = None,
    route_regex: str = "/api/.*",
    now: float | None = None,
    lookback: float = DEFAULT_LOOKBACK_SECONDS,
    timeout: float = 10.0,
) -> Judgement:
    """Judge the current revision (as the canary) against the previous one (as the baseline)."""
    prometheus = Prometheus(prometheus_url, timeout)
    end = time.time() if now is None else now
    previous_end = last_served(prometheus, namespace, previous, end, lookback)
    if previous_end is None:
        raise UnknownRevision(
            f"the previous revision {previous} served no requests in namespace {namespace} "
            f"in the last {lookback / 3600:g} h: nothing to compare with"
        )
    return compare_windows(
        prometheus,
        namespace,
        (current, end - window_seconds, end),
        (previous, previous_end - window_seconds, previous_end),
        thresholds or Thresholds(),
        route_regex,
    )
