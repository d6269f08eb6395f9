"""SLOs over the environment's window, from Prometheus, with the chart's analysis queries.

No data is a failure that says so: an empty result, NaN, or fewer requests than
`slo.min_requests` never passes.
"""

from __future__ import annotations

from validate_queries import SloQueries

from fixtures.environment import Environment
from fixtures.prometheus import Prometheus
from fixtures.summary import CheckRecord


def _requests(prometheus: Prometheus, queries: SloQueries, environment: Environment) -> float:
    rate = prometheus.value(queries.request_rate)
    return 0.0 if rate is None else rate * environment.slo.window_seconds


def _no_data(what: str, count: float, environment: Environment, query: str) -> str:
    slo = environment.slo
    return (
        f"{what} over {slo.window} to be measurable, is no data: {count:.0f} API requests in the "
        f"window (slo.min_requests {slo.min_requests}); nothing was served or Prometheus does not "
        f"scrape the pods. Query: {' '.join(query.split())}"
    )


def test_slo_success_rate(
    prometheus: Prometheus, queries: SloQueries, environment: Environment, check: CheckRecord
) -> None:
    slo = environment.slo
    threshold = f">= {slo.success_rate_min:g} over {slo.window}"
    count = _requests(prometheus, queries, environment)
    rate = prometheus.value(queries.success_rate)
    if rate is None or count < slo.min_requests:
        check.record(f"no data ({count:.0f} requests)", threshold)
        check.expect(_no_data("the success rate", count, environment, queries.success_rate))
    assert rate is not None
    check.record(f"{rate:.4f} ({count:.0f} requests)", threshold)
    check.expect(
        None
        if rate >= slo.success_rate_min
        else f"the share of non-5xx API responses over {slo.window} to be at least "
        f"{slo.success_rate_min:g} (slo.success_rate_min), is {rate:.4f} of {count:.0f} requests"
    )


def test_slo_latency_p99(
    prometheus: Prometheus, queries: SloQueries, environment: Environment, check: CheckRecord
) -> None:
    slo = environment.slo
    threshold = f"< {slo.latency_p99_max_seconds:g}s over {slo.window}"
    count = _requests(prometheus, queries, environment)
    p99 = prometheus.value(queries.latency_p99)
    if p99 is None or count < slo.min_requests:
        check.record(f"no data ({count:.0f} requests)", threshold)
        check.expect(_no_data("the p99 latency", count, environment, queries.latency_p99))
    assert p99 is not None
    check.record(f"{p99:.3f}s ({count:.0f} requests)", threshold)
    check.expect(
        None
        if p99 < slo.latency_p99_max_seconds
        else f"the p99 latency of API requests over {slo.window} to be below "
        f"{slo.latency_p99_max_seconds:g}s (slo.latency_p99_max_seconds), is {p99:.3f}s"
    )
