"""From Prometheus' raw samples to what each revision served in a window.

Counters grow for the life of a process. Per series the judge takes the last sample at or
before the window's start (looked up to LOOKBACK_SECONDS earlier) and adds every increase
up to the window's end; a drop is a counter reset (a restarted process), after which the
new value is all increase. A series with no sample before the window was born inside it
(a new pod, or the first 5xx of a status that had none), so it counts from 0: otherwise a
canary's first errors, the very thing to catch, would be lost. What a brand-new pod served
before its first scrape is inside the window too, and is counted the same way.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence

from .histogram import Histogram
from .prometheus import Prometheus, Series, string_literal
from .verdict import RevisionWindow

# How far before the window the start value of a counter is looked for: a few scrape
# intervals of any usual configuration (15-30 s).
LOOKBACK_SECONDS = 60.0
HASH_LABEL = "rollouts_pod_template_hash"
BUILD_INFO = "sre_platform_build_info"
REQUESTS = "http_requests_total"
BUCKETS = "http_request_duration_seconds_bucket"
LATENCY_SUM = "http_request_duration_seconds_sum"


class UnknownRevision(LookupError):
    """No pod of that revision was scraped in the window."""


def window_increase(samples: Sequence[tuple[float, float]], start: float, end: float) -> float:
    """How much a counter grew in (start, end], counter resets included."""
    before = [v for t, v in samples if t <= start]
    inside = [v for t, v in samples if start < t <= end]
    previous = before[-1] if before else 0.0
    total = 0.0
    for value in inside:
        total += value - previous if value >= previous else value
        previous = value
    return total


def _le(text: str) -> float:
    return math.inf if text in ("+Inf", "Inf", "inf") else float(text)


def revisions_from_series(
    series: Iterable[Series],
    build_info: Iterable[Series],
    hashes: Sequence[str],
    start: float,
    end: float,
) -> dict[str, RevisionWindow]:
    """Sum every series' window increase per revision: requests and 5xx by status, latency
    buckets by `le` (across routes, methods and pods), the latency sum."""
    requests: dict[str, float] = defaultdict(float)
    errors: dict[str, float] = defaultdict(float)
    latency_sum: dict[str, float] = defaultdict(float)
    buckets: dict[str, dict[float, float]] = defaultdict(lambda: defaultdict(float))
    pods: dict[str, set[str]] = defaultdict(set)
    versions: dict[str, set[str]] = defaultdict(set)
    for item in build_info:
        revision = item.labels.get(HASH_LABEL, "")
        if any(start < t <= end for t, _ in item.samples):
            pods[revision].add(item.labels.get("pod", "?"))
            versions[revision].add(item.labels.get("version", "?"))
    for item in series:
        revision = item.labels.get(HASH_LABEL, "")
        name = item.labels.get("__name__", "")
        grown = window_increase(item.samples, start, end)
        if name == REQUESTS:
            requests[revision] += grown
            if item.labels.get("status", "").startswith("5"):
                errors[revision] += grown
        elif name == BUCKETS:
            buckets[revision][_le(item.labels.get("le", "+Inf"))] += grown
        elif name == LATENCY_SUM:
            latency_sum[revision] += grown
    out: dict[str, RevisionWindow] = {}
    for revision in hashes:
        if revision not in pods:
            continue
        out[revision] = RevisionWindow(
            hash=revision,
            start=start,
            end=end,
            pods=tuple(sorted(pods[revision])),
            versions=tuple(sorted(versions[revision])),
            requests=round(requests[revision]),
            errors=round(errors[revision]),
            histogram=Histogram.from_cumulative(buckets[revision])
            if buckets[revision]
            else Histogram.empty(),
            latency_sum=latency_sum[revision],
        )
    return out


def fetch(
    prometheus: Prometheus,
    namespace: str,
    hashes: Sequence[str],
    start: float,
    end: float,
    route_regex: str,
) -> dict[str, RevisionWindow]:
    """Each revision's window from Prometheus (two queries for all of them). A revision
    no pod of which was scraped in the window (its `sre_platform_build_info`, which every
    pod exports from its start) raises UnknownRevision."""
    revisions = "|".join(hashes)  # validated alphanumeric: no regex or PromQL metacharacters
    scope = f"namespace={string_literal(namespace)}, {HASH_LABEL}=~{string_literal(revisions)}"
    seconds = end - start + LOOKBACK_SECONDS
    info = prometheus.range_selector(f"{BUILD_INFO}{{{scope}}}", seconds, end)
    names = f"{REQUESTS}|{BUCKETS}|{LATENCY_SUM}"
    selector = (
        f"{{__name__=~{string_literal(names)}, {scope}, route=~{string_literal(route_regex)}}}"
    )
    series = prometheus.range_selector(selector, seconds, end)
    found = revisions_from_series(series, info, hashes, start, end)
    missing = [h for h in hashes if h not in found]
    if missing:
        raise UnknownRevision(
            f"no pod of revision {', '.join(missing)} (label {HASH_LABEL}) in namespace "
            f"{namespace} was scraped between {start:.0f} and {end:.0f} "
            f"(no {BUILD_INFO} series): wrong hash or namespace, or the pods are gone"
        )
    return found
