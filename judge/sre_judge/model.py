"""The JSON contract (`sre-judge/v1`, docs/judge.md): what a caller sends, what it gets.

camelCase on the wire (Kubernetes' and Argo's convention: the chart writes the request
as an AnalysisTemplate's `jsonBody`), unknown keys rejected so a typo is an error rather
than a silently ignored threshold. Everything that reaches a PromQL selector (namespace,
hashes, route regex) is validated here, so no request can inject PromQL.
"""

from __future__ import annotations

import math
import re
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic.alias_generators import to_camel

from . import CONTRACT

_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
MIN_WINDOW_SECONDS = 5.0
MAX_WINDOW_SECONDS = 86400.0

Result = Literal["pass", "marginal", "fail", "inconclusive"]
Verdict = Literal["pass", "fail", "inconclusive"]


def duration_seconds(text: str) -> float:
    """Seconds of a Prometheus/Argo duration: `90s`, `2m`, `1m30s`, or a plain number."""
    text = text.strip()
    try:
        return float(text)
    except ValueError:
        pass
    pos, total = 0, 0.0
    for match in _DURATION.finditer(text):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        pos = match.end()
    if pos != len(text) or not text:
        raise ValueError(f"{text!r} is not a duration (e.g. 30s, 2m, 1m30s)")
    return total


class _Model(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True
    )


class LatencyThresholds(_Model):
    """The whole latency distribution: Mann-Whitney U; effect = mean latency ratio."""

    max_ratio: float = Field(
        default=1.2, ge=1.0, description="fail only when canary mean / baseline mean exceeds this"
    )
    min_increase_seconds: float = Field(
        default=0.005,
        ge=0,
        description="and only when the canary's mean is also slower by more than this (seconds)",
    )
    weight: float = Field(default=50.0, ge=0)
    critical: bool = False


class LatencyTailThresholds(_Model):
    """The slow tail: the share of requests slower than `seconds` (a bucket bound)."""

    seconds: float = Field(
        default=0.25, gt=0, description="a bucket bound of the service's histogram"
    )
    max_increase: float = Field(
        default=0.005,
        ge=0,
        le=1,
        description="fail only when the canary's share exceeds the baseline's by more",
    )
    weight: float = Field(default=25.0, ge=0)
    critical: bool = False


class ErrorThresholds(_Model):
    """5xx responses: the share of requests answered with a 5xx status."""

    max_increase: float = Field(
        default=0.002,
        ge=0,
        le=1,
        description="fail only when the canary's share exceeds the baseline's by more",
    )
    weight: float = Field(default=25.0, ge=0)
    critical: bool = Field(default=True, description="a failing critical metric makes the score 0")


class ScoreCutoffs(_Model):
    pass_: float = Field(default=95.0, alias="pass", ge=0, le=100)
    marginal: float = Field(default=75.0, ge=0, le=100)

    @model_validator(mode="after")
    def _ordered(self) -> ScoreCutoffs:
        if self.marginal > self.pass_:
            raise ValueError(
                f"score.marginal ({self.marginal:g}) is above score.pass ({self.pass_:g})"
            )
        return self


class Thresholds(_Model):
    """How the judge decides; every field has a default (docs/judge.md)."""

    # Below ~20 a side the rank test's normal approximation and any power are gone.
    min_requests: int = Field(
        default=100, ge=20, description="fewer requests on either side in the window: inconclusive"
    )
    alpha: float = Field(
        default=0.01, gt=0, lt=0.5, description="family-wise significance level (Holm-Bonferroni)"
    )
    latency: LatencyThresholds = Field(default_factory=LatencyThresholds)
    latency_tail: LatencyTailThresholds = Field(default_factory=LatencyTailThresholds)
    errors: ErrorThresholds = Field(default_factory=ErrorThresholds)
    score: ScoreCutoffs = Field(default_factory=ScoreCutoffs)

    @model_validator(mode="after")
    def _weighted(self) -> Thresholds:
        if self.latency.weight + self.latency_tail.weight + self.errors.weight <= 0:
            raise ValueError("the metrics' weights sum to 0: nothing would be scored")
        return self


_NAMESPACE = r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$"
_HASH = r"^[A-Za-z0-9]{1,63}$"


class JudgeRequest(Thresholds):
    """One comparison: the canary's and the baseline's pods (by `rollouts-pod-template-hash`)
    in one namespace, over the window that ends at `end` (default: now)."""

    namespace: str = Field(pattern=_NAMESPACE)
    canary_hash: str = Field(pattern=_HASH)
    baseline_hash: str = Field(pattern=_HASH)
    window: str = Field(default="2m", description="Prometheus duration, e.g. 30s, 2m")
    end: float | datetime | None = Field(
        default=None,
        description="window end: unix seconds or RFC 3339; default now (replays use it)",
    )
    route_regex: str = Field(
        default="/api/.*",
        min_length=1,
        max_length=200,
        description="routes that count (RE2, anchored)",
    )

    @field_validator("window")
    @classmethod
    def _window(cls, value: str) -> str:
        seconds = duration_seconds(value)
        if not MIN_WINDOW_SECONDS <= seconds <= MAX_WINDOW_SECONDS:
            raise ValueError(
                f"window {value} is outside {MIN_WINDOW_SECONDS:g}s..{MAX_WINDOW_SECONDS:g}s"
            )
        return value

    @field_validator("route_regex")
    @classmethod
    def _regex(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as err:
            raise ValueError(f"routeRegex {value!r} is not a regular expression: {err}") from None
        return value

    @model_validator(mode="after")
    def _two_revisions(self) -> JudgeRequest:
        if self.canary_hash == self.baseline_hash:
            raise ValueError(
                f"canaryHash and baselineHash are both {self.canary_hash!r}: a revision "
                "compared with itself proves nothing"
            )
        return self

    @property
    def window_seconds(self) -> float:
        return duration_seconds(self.window)

    def end_seconds(self, now: float) -> float:
        if self.end is None:
            return now
        if isinstance(self.end, datetime):
            return self.end.timestamp()
        return float(self.end)

    def thresholds(self) -> Thresholds:
        return Thresholds.model_validate(self.model_dump(include=set(Thresholds.model_fields)))


class LatencySummary(_Model):
    mean_seconds: float | None
    p50_seconds: float | None
    p90_seconds: float | None
    p99_seconds: float | None


class RevisionSummary(_Model):
    hash: str
    window_start: float
    window_end: float
    pods: list[str]
    versions: list[str]
    requests: int
    errors: int
    error_rate: float | None
    latency: LatencySummary


class MetricResult(_Model):
    name: Literal["latency", "latency-tail", "errors"]
    verdict: Verdict
    test: Literal["mann-whitney-u", "fisher-exact"]
    p_value: float | None
    p_value_adjusted: float | None
    significant: bool
    effect_size: float | None
    effect_size_kind: str
    max_effect_size: float
    canary_value: float | None
    baseline_value: float | None
    weight: float
    critical: bool
    reason: str


class Judgement(_Model):
    contract: str = CONTRACT
    result: Result
    score: float | None
    reason: str
    canary: RevisionSummary
    baseline: RevisionSummary
    metrics: list[MetricResult]
    thresholds: Thresholds


class ErrorBody(_Model):
    """Every non-2xx answer: a machine-readable `error` and one human `message`."""

    contract: str = CONTRACT
    error: Literal[
        "bad_request",
        "unknown_revision",
        "not_comparable",
        "prometheus_unreachable",
        "prometheus_error",
        "internal",
    ]
    message: str
    details: list[str] = []


def finite_or_none(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None
