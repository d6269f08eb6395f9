"""One comparison end to end: the request's windows read from Prometheus, then judged."""

from __future__ import annotations

import time

from .model import Judgement, JudgeRequest, Thresholds
from .prometheus import Prometheus
from .series import fetch
from .verdict import judge


def compare(request: JudgeRequest, prometheus: Prometheus, now: float | None = None) -> Judgement:
    """The canary against the baseline over the same window: both served the same traffic
    mix at the same time, so time-of-day and load cancel out."""
    end = request.end_seconds(time.time() if now is None else now)
    start = end - request.window_seconds
    revisions = fetch(
        prometheus,
        request.namespace,
        [request.canary_hash, request.baseline_hash],
        start,
        end,
        request.route_regex,
    )
    return judge(
        revisions[request.canary_hash], revisions[request.baseline_hash], request.thresholds()
    )


def compare_windows(
    prometheus: Prometheus,
    namespace: str,
    canary: tuple[str, float, float],
    baseline: tuple[str, float, float],
    thresholds: Thresholds,
    route_regex: str = "/api/.*",
) -> Judgement:
    """Each revision over its own window `(hash, start, end)`: for revisions that did not
    serve at the same time (the validate tier's current vs previous revision)."""
    (c_hash, c_start, c_end), (b_hash, b_start, b_end) = canary, baseline
    c_window = fetch(prometheus, namespace, [c_hash], c_start, c_end, route_regex)[c_hash]
    b_window = fetch(prometheus, namespace, [b_hash], b_start, b_end, route_regex)[b_hash]
    return judge(c_window, b_window, thresholds)
