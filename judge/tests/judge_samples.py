"""Known distributions as the judge sees them: latencies through the service's own
histogram buckets, errors as counts. Shared by the judge's unit tests."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from sre_judge.histogram import Histogram
from sre_judge.verdict import RevisionWindow
from sre_platform.metrics import DURATION_BUCKETS

# A service answering in ~20 ms with a long tail: p99 ~ 0.12 s (lognormal, sigma 0.8).
MEDIAN_SECONDS = 0.02
SIGMA = 0.8


def latencies(
    rng: np.random.Generator, n: int, shift: float = 0.0, scale: float = 1.0
) -> npt.NDArray[np.float64]:
    return rng.lognormal(np.log(MEDIAN_SECONDS), SIGMA, n) * scale + shift


def revision(
    name: str,
    values: npt.NDArray[np.float64],
    errors: int = 0,
    requests: int | None = None,
) -> RevisionWindow:
    """A revision whose requests took `values` seconds, `errors` of them 5xx."""
    return RevisionWindow(
        hash=name,
        start=0.0,
        end=120.0,
        pods=(f"{name}-pod",),
        versions=("1.0.0",),
        requests=len(values) if requests is None else requests,
        errors=errors,
        histogram=Histogram.of_values(values, DURATION_BUCKETS),
        latency_sum=float(np.sum(values)),
    )
