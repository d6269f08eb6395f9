"""SLOs over the environment's window, from Prometheus, with the chart's analysis queries.

No data is a failure that says so: an empty result, NaN, or fewer requests than
`slo.min_requests` never passes.

Where the environment file has a `judge:` section, the canary judge also compares the
current revision with the previous one (fixtures/validate/judge.py, docs/judge.md).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from fixtures.core.kube import Kube
from fixtures.core.prometheus import Prometheus
from fixtures.validate.environment import Environment
from fixtures.validate.judge import JudgeUnavailable, judge_revisions
from fixtures.validate.queries import SloQueries
from fixtures.validate.state import Workload, owned_replica_sets
from fixtures.validate.summary import CheckRecord

# measure(what, query, shown, threshold) -> (value, API requests in the window)
Measure = Callable[[str, str, Callable[[float], str], str], tuple[float, float]]


@pytest.fixture
def measure(
    prometheus: Prometheus, queries: SloQueries, environment: Environment, check: CheckRecord
) -> Measure:
    """An SLO query's value and the request count behind it, recorded as `shown` formats the
    value; no data (empty, NaN, fewer requests than slo.min_requests) fails the check."""
    slo = environment.slo

    def measured(
        what: str, query: str, shown: Callable[[float], str], threshold: str
    ) -> tuple[float, float]:
        rate = prometheus.value(queries.request_rate)
        count = 0.0 if rate is None else rate * slo.window_seconds
        value = prometheus.value(query)
        if value is None or count < slo.min_requests:
            check.record(f"no data ({count:.0f} requests)", threshold)
            check.expect(
                f"{what} over {slo.window} to be measurable, is no data: {count:.0f} API "
                f"requests in the window (slo.min_requests {slo.min_requests}); nothing was "
                f"served or Prometheus does not scrape the pods. Query: {' '.join(query.split())}"
            )
        assert value is not None
        check.record(f"{shown(value)} ({count:.0f} requests)", threshold)
        return value, count

    return measured


def test_slo_success_rate(
    measure: Measure, queries: SloQueries, environment: Environment, check: CheckRecord
) -> None:
    slo = environment.slo
    threshold = f">= {slo.success_rate_min:g} over {slo.window}"
    rate, count = measure("the success rate", queries.success_rate, "{:.4f}".format, threshold)
    if rate < slo.success_rate_min:
        check.expect(
            f"the share of non-5xx API responses over {slo.window} to be at least "
            f"{slo.success_rate_min:g} (slo.success_rate_min), is {rate:.4f} of {count:.0f} "
            "requests"
        )


def test_slo_latency_p99(
    measure: Measure, queries: SloQueries, environment: Environment, check: CheckRecord
) -> None:
    slo = environment.slo
    limit = slo.latency_p99_max_seconds
    p99, _ = measure(
        "the p99 latency", queries.latency_p99, "{:.3f}s".format, f"< {limit:g}s over {slo.window}"
    )
    if p99 >= limit:
        check.expect(
            f"the p99 latency of API requests over {slo.window} to be below {limit:g}s "
            f"(slo.latency_p99_max_seconds), is {p99:.3f}s"
        )


def test_slo_judge_vs_previous_revision(
    prometheus: Prometheus,
    kube: Kube,
    environment: Environment,
    workload: Workload,
    check: CheckRecord,
) -> None:
    """The canary judge's verdict on the current revision against the previous one: fails
    on `fail`; `marginal`, `inconclusive` and "no previous revision" pass with their reason
    (the two windows lie at different times, so the SLOs above stay the gate)."""
    section = environment.judge
    threshold = "judge: not fail vs the previous revision"
    check.expected(threshold)
    if section is None:
        pytest.skip(f"no judge: section in {environment.file.name} (the canary judge is off)")
    if workload.kind != "Rollout":
        pytest.skip(f"{workload.ref}: the judge compares Rollout revisions (by their hash)")
    try:
        verdict = judge_revisions(
            environment.prometheus_url,
            environment.namespace,
            workload.obj,
            owned_replica_sets(kube, environment.namespace, environment.release, workload.obj),
            section,
        )
    except JudgeUnavailable as error:
        check.expect(f"the judge's verdict to be available, is none: {error}")
        raise
    check.record(verdict.measured, threshold)
    if verdict.failed:
        check.expect(
            f"{workload.ref}'s current revision to be not worse than the previous one "
            f"(judge: of {environment.file.name}), is {verdict.measured}: {verdict.reason}"
        )
