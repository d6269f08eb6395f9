"""The tests the judge runs, one-sided: only a canary WORSE than its baseline is evidence.

- latency: Mann-Whitney U (Wilcoxon rank-sum) on the bucketed latencies, computed from
  the bucket counts (midranks of tied buckets, tie-corrected normal approximation with
  continuity correction): the same statistic and p-value as
  `scipy.stats.mannwhitneyu(canary, baseline, alternative="greater", method="asymptotic")`
  on the reconstructed samples (the unit tests hold it to that), without materialising
  millions of samples under heavy traffic;
- proportions (errors, requests slower than a bound): Fisher's exact test on the 2x2 table
  (`scipy.stats.fisher_exact`, alternative "greater"), exact at any count, including zero
  events on one side;
- several metrics per judgement: Holm-Bonferroni adjusted p-values, so the family's
  false-positive rate stays at alpha.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import stats


@dataclass(frozen=True)
class RankTest:
    """U of the canary; the one-sided p-value; the probability of superiority
    P(canary > baseline) + P(tie) / 2 = U / (n1 n2), 0.5 when both are alike."""

    u: float
    p_value: float
    superiority: float


def mann_whitney_greater(
    canary: npt.NDArray[np.float64], baseline: npt.NDArray[np.float64]
) -> RankTest:
    """Mann-Whitney U, alternative "the canary's values tend to be larger", from counts per
    ordered category (histogram buckets); both arrays on the same buckets."""
    if canary.shape != baseline.shape:
        raise ValueError("both revisions' counts must be on the same buckets")
    n1, n2 = float(canary.sum()), float(baseline.sum())
    if n1 == 0 or n2 == 0:
        raise ValueError("a rank test needs observations on both sides")
    pooled = canary + baseline
    # Observations of one bucket share the mean of the ranks they occupy in the pooled sample.
    midranks = np.cumsum(pooled) - (pooled - 1) / 2
    u = float((canary * midranks).sum()) - n1 * (n1 + 1) / 2
    n = n1 + n2
    tie_term = float((pooled**3 - pooled).sum())
    variance = n1 * n2 / 12 * ((n + 1) - tie_term / (n * (n - 1)))
    if variance <= 0:  # every observation in one bucket: the samples are indistinguishable
        p_value = 1.0
    else:
        z = (u - n1 * n2 / 2 - 0.5) / math.sqrt(variance)
        p_value = float(stats.norm.sf(z))
    return RankTest(u=u, p_value=min(1.0, max(0.0, p_value)), superiority=u / (n1 * n2))


def fisher_greater(
    canary_events: int, canary_n: int, baseline_events: int, baseline_n: int
) -> float:
    """p-value of Fisher's exact test that the canary's share of events is larger."""
    if canary_n <= 0 or baseline_n <= 0:
        raise ValueError("a proportion test needs requests on both sides")
    table = [
        [canary_events, canary_n - canary_events],
        [baseline_events, baseline_n - baseline_events],
    ]
    result = stats.fisher_exact(table, alternative="greater")
    return float(min(1.0, max(0.0, result.pvalue)))


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values (step-down; reject where adjusted < alpha): the
    probability of any false positive among the metrics stays at alpha, with more power
    than plain Bonferroni."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted = [1.0] * m
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[index]))
        adjusted[index] = running
    return adjusted
