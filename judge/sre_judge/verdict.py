"""The decision: per metric a test, an effect size and a verdict; one score; one result.

A metric FAILS only when both hold:
  - the canary is significantly worse (one-sided test, Holm-adjusted p < alpha), and
  - the effect is larger than the threshold that matters (mean latency ratio, increase
    in the share of slow or failed requests),
so a tiny difference that heavy traffic makes significant never fails a canary, and a
large-looking difference on a handful of requests is not significant. A better canary
never fails (one-sided tests). Too few requests on either side: inconclusive.

Score (Kayenta's weighted sum): 100 x the weight of passing metrics / all weights; a
failing critical metric makes it 0. Result: pass >= score.pass, marginal >= score.marginal,
else fail; inconclusive when any metric is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

from .histogram import Histogram, common_buckets
from .model import (
    Judgement,
    LatencySummary,
    MetricResult,
    Result,
    RevisionSummary,
    Thresholds,
    finite_or_none,
)
from .stats import fisher_greater, holm, mann_whitney_greater


class NotComparable(ValueError):
    """The two revisions' data cannot be compared as asked (e.g. the tail bound is not a
    bucket bound of the histogram)."""


@dataclass(frozen=True)
class RevisionWindow:
    """What one revision's pods served in its window."""

    hash: str
    start: float
    end: float
    pods: tuple[str, ...]
    versions: tuple[str, ...]
    requests: int
    errors: int
    histogram: Histogram
    latency_sum: float

    @property
    def mean_latency(self) -> float | None:
        count = self.histogram.total
        return self.latency_sum / count if count else None

    def summary(self) -> RevisionSummary:
        return RevisionSummary(
            hash=self.hash,
            window_start=self.start,
            window_end=self.end,
            pods=list(self.pods),
            versions=list(self.versions),
            requests=self.requests,
            errors=self.errors,
            error_rate=self.errors / self.requests if self.requests else None,
            latency=LatencySummary(
                mean_seconds=finite_or_none(self.mean_latency),
                p50_seconds=self.histogram.quantile(0.5),
                p90_seconds=self.histogram.quantile(0.9),
                p99_seconds=self.histogram.quantile(0.99),
            ),
        )


@dataclass
class _Draft:
    """A metric before multiple-comparison adjustment."""

    name: str
    test: str
    n_canary: int
    n_baseline: int
    p_value: float | None
    effect: float | None
    effect_kind: str
    max_effect: float
    canary_value: float | None
    baseline_value: float | None
    weight: float
    critical: bool
    # A second condition for "worse enough" besides the effect size (latency: an absolute
    # increase of the mean), and how a reason names it.
    material: bool = True
    material_text: str = ""


def _latency(canary: RevisionWindow, baseline: RevisionWindow, t: Thresholds) -> _Draft:
    c_hist, b_hist = common_buckets(canary.histogram, baseline.histogram)
    c_mean, b_mean = canary.mean_latency, baseline.mean_latency
    p_value = None
    if c_hist.total and b_hist.total:
        p_value = mann_whitney_greater(c_hist.array(), b_hist.array()).p_value
    ratio = c_mean / b_mean if c_mean is not None and b_mean else None
    increase = c_mean - b_mean if c_mean is not None and b_mean is not None else None
    floor = t.latency.min_increase_seconds
    draft = _Draft(
        "latency",
        "mann-whitney-u",
        c_hist.total,
        b_hist.total,
        p_value,
        finite_or_none(ratio),
        "mean latency ratio, canary / baseline",
        t.latency.max_ratio,
        finite_or_none(c_mean),
        finite_or_none(b_mean),
        t.latency.weight,
        t.latency.critical,
    )
    if increase is not None:
        draft.material = increase > floor
        draft.material_text = f"mean +{increase * 1000:.1f} ms (minIncreaseSeconds {floor:g} s)"
    return draft


def _share_draft(
    name: str,
    kind: str,
    canary: tuple[int, int],
    baseline: tuple[int, int],
    max_increase: float,
    weight: float,
    critical: bool,
) -> _Draft:
    (c_events, c_n), (b_events, b_n) = canary, baseline
    c_share = c_events / c_n if c_n else None
    b_share = b_events / b_n if b_n else None
    p_value = fisher_greater(c_events, c_n, b_events, b_n) if c_n and b_n else None
    effect = c_share - b_share if c_share is not None and b_share is not None else None
    return _Draft(
        name, "fisher-exact", c_n, b_n, p_value, effect, kind, max_increase,
        c_share, b_share, weight, critical,
    )  # fmt: skip


def _tail(canary: RevisionWindow, baseline: RevisionWindow, t: Thresholds) -> _Draft:
    bound = t.latency_tail.seconds
    c_hist, b_hist = common_buckets(canary.histogram, baseline.histogram)
    try:
        c_slow, b_slow = c_hist.slower_than(bound), b_hist.slower_than(bound)
    except ValueError as err:
        raise NotComparable(f"latencyTail.seconds: {err}") from None
    return _share_draft(
        "latency-tail",
        f"increase in the share of requests slower than {bound:g} s",
        (c_slow, c_hist.total),
        (b_slow, b_hist.total),
        t.latency_tail.max_increase,
        t.latency_tail.weight,
        t.latency_tail.critical,
    )


def _errors(canary: RevisionWindow, baseline: RevisionWindow, t: Thresholds) -> _Draft:
    return _share_draft(
        "errors",
        "increase in the share of 5xx responses",
        (canary.errors, canary.requests),
        (baseline.errors, baseline.requests),
        t.errors.max_increase,
        t.errors.weight,
        t.errors.critical,
    )


def _decide(draft: _Draft, adjusted: float | None, t: Thresholds) -> MetricResult:
    significant = adjusted is not None and adjusted < t.alpha
    too_few = min(draft.n_canary, draft.n_baseline) < t.min_requests
    beyond = draft.effect is not None and draft.effect > draft.max_effect and draft.material
    effect = "n/a" if draft.effect is None else f"{draft.effect:.4g}"
    if too_few:
        verdict = "inconclusive"
        reason = (
            f"{draft.n_canary} canary and {draft.n_baseline} baseline requests in the window; "
            f"a verdict needs at least {t.min_requests} on each side (minRequests)"
        )
    elif significant and beyond:
        verdict = "fail"
        reason = (
            f"canary worse: {draft.effect_kind} {effect} > {draft.max_effect:g}, "
            f"adjusted p {adjusted:.3g} < alpha {t.alpha:g}"
        )
        if draft.material_text:
            reason += f", {draft.material_text}"
    else:
        verdict = "pass"
        why = []
        if not significant:
            shown = "n/a" if adjusted is None else f"{adjusted:.3g}"
            why.append(f"not significantly worse (adjusted p {shown} >= alpha {t.alpha:g})")
        if draft.effect is None or draft.effect <= draft.max_effect:
            why.append(f"{draft.effect_kind} {effect} within {draft.max_effect:g}")
        elif not draft.material:
            why.append(f"too small to matter: {draft.material_text}")
        reason = "; ".join(why)
    return MetricResult(
        name=draft.name,  # type: ignore[arg-type]  # one of the three literal names
        verdict=verdict,  # type: ignore[arg-type]
        test=draft.test,  # type: ignore[arg-type]
        p_value=draft.p_value,
        p_value_adjusted=adjusted,
        significant=significant,
        effect_size=draft.effect,
        effect_size_kind=draft.effect_kind,
        max_effect_size=draft.max_effect,
        canary_value=draft.canary_value,
        baseline_value=draft.baseline_value,
        weight=draft.weight,
        critical=draft.critical,
        reason=reason,
    )


def judge(canary: RevisionWindow, baseline: RevisionWindow, t: Thresholds) -> Judgement:
    drafts = [
        _latency(canary, baseline, t),
        _tail(canary, baseline, t),
        _errors(canary, baseline, t),
    ]
    tested = [i for i, d in enumerate(drafts) if d.p_value is not None]
    adjusted_tested = holm([drafts[i].p_value or 0.0 for i in tested])
    adjusted: list[float | None] = [None] * len(drafts)
    for i, value in zip(tested, adjusted_tested, strict=True):
        adjusted[i] = value
    metrics = [_decide(d, a, t) for d, a in zip(drafts, adjusted, strict=True)]
    result, score, reason = _score(metrics, t)
    return Judgement(
        result=cast(Result, result),
        score=score,
        reason=reason,
        canary=canary.summary(),
        baseline=baseline.summary(),
        metrics=metrics,
        thresholds=t,
    )


def _score(metrics: list[MetricResult], t: Thresholds) -> tuple[str, float | None, str]:
    inconclusive = [m for m in metrics if m.verdict == "inconclusive"]
    if inconclusive:
        return "inconclusive", None, f"too few requests: {inconclusive[0].reason}"
    failed = [m for m in metrics if m.verdict == "fail"]
    total = sum(m.weight for m in metrics)
    score = 100.0 * sum(m.weight for m in metrics if m.verdict == "pass") / total
    critical = [m for m in failed if m.critical]
    if critical:
        score = 0.0
    if score >= t.score.pass_:
        result = "pass"
    elif score >= t.score.marginal:
        result = "marginal"
    else:
        result = "fail"
    if not failed:
        reason = f"no metric is worse on the canary ({len(metrics)} compared)"
    else:
        names = ", ".join(m.name + (" (critical)" if m.critical else "") for m in failed)
        reason = f"canary worse on: {names}; " + "; ".join(f"{m.name}: {m.reason}" for m in failed)
    return result, round(score, 2), reason
