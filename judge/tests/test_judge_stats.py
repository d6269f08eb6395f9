"""The judge's statistics against known distributions (no Prometheus: verdict.judge on
windows built from sampled latencies and error counts)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from judge_samples import latencies, revision
from prometheus_client import CollectorRegistry
from prometheus_client import Histogram as PromHistogram
from scipy import stats

from sre_judge.histogram import Histogram, common_buckets
from sre_judge.model import Thresholds
from sre_judge.stats import fisher_greater, holm, mann_whitney_greater
from sre_judge.verdict import NotComparable, judge
from sre_platform.metrics import DURATION_BUCKETS

DEFAULTS = Thresholds()


def _metric(judgement, name):  # type: ignore[no-untyped-def]
    return next(m for m in judgement.metrics if m.name == name)


# ---- bucket counts, reconstruction --------------------------------------------------------


def test_buckets_count_what_the_services_own_histogram_counts() -> None:
    """Histogram.of_values (the tests' model) and from_cumulative (what the judge reads from
    Prometheus) agree with prometheus_client's histogram, bucket bounds included."""
    rng = np.random.default_rng(7)
    values = [*latencies(rng, 5000), 0.005, 0.1, 0.25, 12.0]  # on a bound, and above the last
    registry = CollectorRegistry()
    real = PromHistogram("t_seconds", "t", buckets=DURATION_BUCKETS, registry=registry)
    for value in values:
        real.observe(value)
    cumulative = {
        float(s.labels["le"]): s.value
        for metric in registry.collect()
        for s in metric.samples
        if s.name == "t_seconds_bucket"
    }
    read = Histogram.from_cumulative(cumulative)
    assert read == Histogram.of_values(values, DURATION_BUCKETS)
    assert read.total == len(values)
    assert read.counts[-1] == 1  # 12 s: only the +Inf bucket


def test_reconstructed_samples_put_every_observation_in_its_bucket() -> None:
    values = np.array([0.001, 0.005, 0.0051, 0.3, 0.3, 20.0])
    hist = Histogram.of_values(values, DURATION_BUCKETS)
    samples = hist.samples()
    assert len(samples) == len(values)
    assert list(np.bincount(samples, minlength=len(hist.bounds))) == list(hist.counts)
    # bucket index order is latency order: 0.001 and 0.005 tie in bucket 0 (le 0.005)
    assert list(samples) == [0, 0, 1, 7, 7, 15]


def test_a_dip_in_cumulative_counts_is_an_empty_bucket_not_a_negative_one() -> None:
    hist = Histogram.from_cumulative({0.1: 10.0, 0.25: 9.6, math.inf: 12.0})
    assert hist.counts == (10, 0, 2)


def test_quantile_interpolates_inside_the_bucket_like_histogram_quantile() -> None:
    hist = Histogram((0.1, 0.2, math.inf), (50, 50, 0))
    assert hist.quantile(0.5) == pytest.approx(0.1)
    assert hist.quantile(0.75) == pytest.approx(0.15)
    assert Histogram((0.1, math.inf), (0, 10)).quantile(0.99) == pytest.approx(0.1)
    assert Histogram.empty().quantile(0.5) is None


def test_revisions_with_different_buckets_are_compared_on_the_shared_bounds() -> None:
    first = Histogram((0.1, 0.2, 0.3, math.inf), (1, 2, 3, 4))
    second = Histogram((0.1, 0.3, math.inf), (5, 5, 5))
    a, b = common_buckets(first, second)
    assert a.bounds == b.bounds == (0.1, 0.3, math.inf)
    assert a.counts == (1, 5, 4)


# ---- the tests themselves ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("canary_shift", "n_canary", "n_baseline"),
    [(0.0, 300, 5000), (0.004, 2000, 2000), (0.05, 150, 40), (-0.01, 800, 1200)],
)
def test_rank_test_is_scipys_mann_whitney_on_the_reconstructed_samples(
    canary_shift: float, n_canary: int, n_baseline: int
) -> None:
    rng = np.random.default_rng(11)
    canary = Histogram.of_values(latencies(rng, n_canary, canary_shift), DURATION_BUCKETS)
    baseline = Histogram.of_values(latencies(rng, n_baseline), DURATION_BUCKETS)
    ours = mann_whitney_greater(canary.array(), baseline.array())
    theirs = stats.mannwhitneyu(
        canary.samples(), baseline.samples(), alternative="greater", method="asymptotic"
    )
    assert ours.u == pytest.approx(float(theirs.statistic))
    assert ours.p_value == pytest.approx(float(theirs.pvalue), rel=1e-9, abs=1e-300)


def test_all_observations_in_one_bucket_is_no_evidence() -> None:
    one = np.array([0.0, 10.0, 0.0])
    assert mann_whitney_greater(one, np.array([0.0, 7.0, 0.0])).p_value == 1.0


def test_fisher_is_one_sided() -> None:
    assert fisher_greater(30, 5000, 0, 5000) < 1e-6
    assert fisher_greater(0, 5000, 30, 5000) == pytest.approx(1.0)


def test_holm_adjusts_step_down() -> None:
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])  # adjusted p-values never decrease
    assert holm([0.2, 0.9]) == pytest.approx([0.4, 0.9])
    assert holm([]) == []


# ---- verdicts on known distributions -----------------------------------------------------


def test_a_over_a_from_the_same_distribution_passes() -> None:
    """200 A/A comparisons: the false-positive rate stays at the family alpha (1%)."""
    rng = np.random.default_rng(2024)
    failures = 0
    for _ in range(200):
        baseline = revision("b", latencies(rng, 2000), errors=int(rng.binomial(2000, 0.001)))
        canary = revision("c", latencies(rng, 2000), errors=int(rng.binomial(2000, 0.001)))
        failures += judge(canary, baseline, DEFAULTS).result != "pass"
    # P(more than 6 of 200 | 1% each) < 0.5%: a judge with a 5% rate would fail this.
    assert failures <= 6


def test_sub_threshold_latency_regression_fails() -> None:
    """p99 ~0.12 s -> ~0.38 s: under the 0.5 s threshold, clearly worse than the baseline."""
    rng = np.random.default_rng(3)
    baseline = revision("b", latencies(rng, 2000))
    canary = revision("c", latencies(rng, 400, shift=0.26))
    judgement = judge(canary, baseline, DEFAULTS)
    assert judgement.result == "fail"
    assert judgement.canary.latency.p99_seconds is not None
    assert 0.3 < judgement.canary.latency.p99_seconds < 0.5
    latency = _metric(judgement, "latency")
    assert latency.verdict == "fail" and latency.significant
    assert latency.effect_size is not None and latency.effect_size > 5
    assert _metric(judgement, "latency-tail").verdict == "fail"
    assert _metric(judgement, "errors").verdict == "pass"
    assert judgement.score == 25.0


def test_tiny_but_significant_difference_under_heavy_traffic_passes() -> None:
    """3% slower over 200k requests a side is significant, and too small to matter."""
    rng = np.random.default_rng(5)
    baseline = revision("b", latencies(rng, 200_000))
    canary = revision("c", latencies(rng, 200_000, scale=1.03))
    judgement = judge(canary, baseline, DEFAULTS)
    latency = _metric(judgement, "latency")
    assert latency.significant, "the test should see a 3% shift on this much traffic"
    assert latency.effect_size == pytest.approx(1.03, abs=0.01)
    assert latency.verdict == "pass"
    assert judgement.result == "pass" and judgement.score == 100.0


def test_errors_0_6_percent_against_none_fail_the_canary_outright() -> None:
    rng = np.random.default_rng(8)
    baseline = revision("b", latencies(rng, 5000), errors=0)
    canary = revision("c", latencies(rng, 5000), errors=30)
    judgement = judge(canary, baseline, DEFAULTS)
    errors = _metric(judgement, "errors")
    assert errors.verdict == "fail"
    assert errors.effect_size == pytest.approx(0.006)
    assert judgement.score == 0.0  # errors are critical
    assert judgement.result == "fail"


def test_a_tiny_error_increase_under_heavy_traffic_passes() -> None:
    rng = np.random.default_rng(9)
    n = 1_000_000
    baseline = revision("b", latencies(rng, 2000), errors=1000, requests=n)
    canary = revision("c", latencies(rng, 2000), errors=1250, requests=n)
    errors = _metric(judge(canary, baseline, DEFAULTS), "errors")
    assert errors.significant
    assert errors.verdict == "pass"


def test_a_better_canary_never_fails() -> None:
    rng = np.random.default_rng(10)
    baseline = revision("b", latencies(rng, 3000, shift=0.2), errors=60)
    canary = revision("c", latencies(rng, 3000), errors=0)
    judgement = judge(canary, baseline, DEFAULTS)
    assert judgement.result == "pass"
    assert all(m.p_value is not None and m.p_value > 0.5 for m in judgement.metrics)


def test_a_slow_tail_alone_is_marginal() -> None:
    """1% of requests +0.3 s: the mean moves ~10%, the tail share ~1 point: score 75,
    marginal (a person decides: the rollout pauses)."""
    rng = np.random.default_rng(12)
    baseline = revision("b", latencies(rng, 20_000))
    values = latencies(rng, 20_000)
    values[: len(values) // 100] += 0.3
    judgement = judge(revision("c", values), baseline, DEFAULTS)
    assert _metric(judgement, "latency-tail").verdict == "fail"
    assert _metric(judgement, "latency").verdict == "pass"
    assert judgement.result == "marginal" and judgement.score == 75.0


def test_too_few_requests_is_inconclusive_never_a_pass() -> None:
    rng = np.random.default_rng(13)
    baseline = revision("b", latencies(rng, 5000))
    canary = revision("c", latencies(rng, 40))
    judgement = judge(canary, baseline, DEFAULTS)
    assert judgement.result == "inconclusive"
    assert judgement.score is None
    assert {m.verdict for m in judgement.metrics} == {"inconclusive"}
    assert "40 canary" in judgement.reason


def test_no_requests_at_all_is_inconclusive() -> None:
    empty = revision("c", np.array([]))
    baseline = revision("b", latencies(np.random.default_rng(1), 500))
    assert judge(empty, baseline, DEFAULTS).result == "inconclusive"


def test_a_tail_bound_that_is_not_a_bucket_bound_is_refused() -> None:
    rng = np.random.default_rng(14)
    window = revision("b", latencies(rng, 500))
    thresholds = Thresholds.model_validate({"latencyTail": {"seconds": 0.3}})
    with pytest.raises(NotComparable, match=r"0\.3 s is not a bucket bound"):
        judge(revision("c", latencies(rng, 500)), window, thresholds)


def test_a_large_ratio_of_a_few_milliseconds_is_not_a_regression() -> None:
    """7 ms -> 10 ms is 1.4x and significant on this much traffic, and below the 5 ms floor
    (latency.minIncreaseSeconds) a user could notice: it passes."""
    rng = np.random.default_rng(15)
    baseline = revision("b", rng.lognormal(np.log(0.006), 0.5, 20_000))
    canary = revision("c", rng.lognormal(np.log(0.0085), 0.5, 20_000))
    latency = _metric(judge(canary, baseline, DEFAULTS), "latency")
    assert latency.significant and latency.effect_size is not None and latency.effect_size > 1.3
    assert latency.verdict == "pass" and "too small to matter" in latency.reason
