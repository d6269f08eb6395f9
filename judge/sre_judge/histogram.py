"""A Prometheus histogram's observations in a window, as counts per bucket.

The service exports `http_request_duration_seconds_bucket{le=...}`: cumulative counts of
requests that took at most `le` seconds. The increase of every bucket over a window,
differenced, is how many requests of the window fell into each bucket: the samples the
judge compares. Inside a bucket the exact latencies are unknown, so every observation of
a bucket ties with the others (a rank test sees ordinal data: bucket 0 < bucket 1 < ...).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt


@dataclass(frozen=True)
class Histogram:
    """Observations per bucket (not cumulative); `bounds` are the buckets' upper bounds
    (`le`), ascending, the last one +Inf."""

    bounds: tuple[float, ...]
    counts: tuple[int, ...]

    def __post_init__(self) -> None:
        if len(self.bounds) != len(self.counts) or not self.bounds:
            raise ValueError("a histogram needs one count per bucket bound")
        if list(self.bounds) != sorted(self.bounds) or self.bounds[-1] != math.inf:
            raise ValueError("bucket bounds must ascend and end with +Inf")

    @classmethod
    def from_cumulative(cls, cumulative: Mapping[float, float]) -> Histogram:
        """From `le -> cumulative count` (window increases of the `_bucket` series).

        Increases are computed per series, so rounding or a counter reset seen by one
        bucket series and not the next can make the cumulative counts dip: a dip is read
        as an empty bucket, never as a negative count."""
        bounds = sorted(cumulative)
        if not bounds or bounds[-1] != math.inf:
            bounds.append(math.inf)
        counts: list[int] = []
        below = 0
        for bound in bounds:
            at_most = max(below, round(cumulative.get(bound, below)))
            counts.append(at_most - below)
            below = at_most
        return cls(tuple(bounds), tuple(counts))

    @classmethod
    def empty(cls, bounds: Sequence[float] = (math.inf,)) -> Histogram:
        return cls(tuple(bounds), tuple(0 for _ in bounds))

    @classmethod
    def of_values(cls, values: Sequence[float], bounds: Sequence[float]) -> Histogram:
        """What the service's histogram would count for these latencies (`le` semantics:
        a value equal to a bound belongs to that bound's bucket)."""
        full = sorted({*bounds, math.inf})
        index = np.searchsorted(np.asarray(full), np.asarray(values, dtype=float), side="left")
        counts = np.bincount(index, minlength=len(full))
        return cls(tuple(full), tuple(int(c) for c in counts))

    @property
    def total(self) -> int:
        return sum(self.counts)

    def array(self) -> npt.NDArray[np.float64]:
        return np.asarray(self.counts, dtype=np.float64)

    def cumulative_at(self, bound: float) -> int:
        """Observations <= `bound`; `bound` must be one of the bucket bounds."""
        if bound not in self.bounds:
            raise ValueError(
                f"{bound:g} s is not a bucket bound of the histogram "
                f"(bounds: {', '.join(f'{b:g}' for b in self.bounds)})"
            )
        return sum(c for b, c in zip(self.bounds, self.counts, strict=True) if b <= bound)

    def slower_than(self, bound: float) -> int:
        """Observations above `bound` seconds (a bucket bound)."""
        return self.total - self.cumulative_at(bound)

    def quantile(self, q: float) -> float | None:
        """The q-quantile as Prometheus' histogram_quantile estimates it: linear inside the
        bucket that holds it; the highest finite bound when it lies in the +Inf bucket.
        None without observations."""
        total = self.total
        if total == 0:
            return None
        rank = q * total
        below, lower = 0, 0.0
        for bound, count in zip(self.bounds, self.counts, strict=True):
            if count and below + count >= rank:
                if bound == math.inf:
                    return lower
                return lower + (bound - lower) * (rank - below) / count
            below += count
            if bound != math.inf:
                lower = bound
        return lower

    def samples(self) -> npt.NDArray[np.int64]:
        """The reconstructed samples: one entry per observation, its bucket's index. A rank
        test needs nothing more (and nothing finer exists): observations of one bucket tie."""
        return np.repeat(np.arange(len(self.counts), dtype=np.int64), self.counts)

    def rebinned(self, bounds: Sequence[float]) -> Histogram:
        """The same observations on coarser buckets (a subset of this histogram's bounds)."""
        cumulative = {b: float(self.cumulative_at(b)) for b in bounds}
        return Histogram.from_cumulative(cumulative)


def common_buckets(first: Histogram, second: Histogram) -> tuple[Histogram, Histogram]:
    """Both histograms on the bounds they share. Revisions of the service normally export
    the same buckets; if a release changed them, only the shared bounds are comparable
    (cumulative counts at a shared bound are exact on both sides)."""
    if first.bounds == second.bounds:
        return first, second
    shared = sorted(set(first.bounds) & set(second.bounds))
    return first.rebinned(shared), second.rebinned(shared)
