"""Raw Prometheus samples -> a revision's window; request validation (the JSON contract)."""

from __future__ import annotations

import math

import pytest
from pydantic import ValidationError

from sre_judge.live import Revisions, revisions_of
from sre_judge.model import JudgeRequest, Thresholds, duration_seconds
from sre_judge.prometheus import Series, string_literal
from sre_judge.series import revisions_from_series, window_increase


def test_increase_counts_from_the_last_sample_before_the_window() -> None:
    samples = [(90.0, 100.0), (100.0, 110.0), (110.0, 130.0), (120.0, 160.0)]
    assert window_increase(samples, start=100.0, end=120.0) == 50.0
    assert window_increase(samples, start=100.0, end=110.0) == 20.0


def test_a_counter_reset_is_a_restart_not_a_negative_increase() -> None:
    samples = [(0.0, 500.0), (10.0, 520.0), (20.0, 4.0), (30.0, 10.0)]
    assert window_increase(samples, start=5.0, end=30.0) == 20.0 + 4.0 + 6.0


def test_a_series_born_in_the_window_counts_from_zero() -> None:
    """The first 5xx of a canary creates its status="500" series: those errors count."""
    assert window_increase([(12.0, 3.0), (14.0, 5.0)], start=10.0, end=20.0) == 5.0


def test_samples_after_the_window_do_not_count() -> None:
    assert window_increase([(0.0, 1.0), (5.0, 2.0), (25.0, 50.0)], start=0.0, end=20.0) == 1.0


def _series(name: str, revision: str, values: list[tuple[float, float]], **labels: str) -> Series:
    base = {"__name__": name, "rollouts_pod_template_hash": revision, "pod": f"p-{revision}"}
    return Series({**base, **labels}, tuple(values))


def test_revision_windows_sum_series_across_routes_pods_and_statuses() -> None:
    info = [
        _series("sre_platform_build_info", "c", [(5.0, 1.0), (15.0, 1.0)], version="2.0"),
        _series("sre_platform_build_info", "b", [(5.0, 1.0), (15.0, 1.0)], version="1.0"),
    ]
    series = [
        _series("http_requests_total", "c", [(0.0, 0.0), (20.0, 90.0)], status="200", route="/a"),
        _series("http_requests_total", "c", [(0.0, 0.0), (20.0, 8.0)], status="200", route="/b"),
        _series("http_requests_total", "c", [(12.0, 2.0)], status="503", route="/a"),
        _series("http_request_duration_seconds_bucket", "c", [(0.0, 0.0), (20.0, 60.0)], le="0.1"),
        _series(
            "http_request_duration_seconds_bucket", "c", [(0.0, 0.0), (20.0, 100.0)], le="+Inf"
        ),
        _series("http_request_duration_seconds_sum", "c", [(0.0, 0.0), (20.0, 9.5)]),
        _series("http_requests_total", "b", [(0.0, 10.0), (20.0, 30.0)], status="200"),
    ]
    found = revisions_from_series(series, info, ["c", "b"], start=0.0, end=20.0)
    canary = found["c"]
    assert (canary.requests, canary.errors) == (100, 2)
    assert canary.histogram.bounds == (0.1, math.inf)
    assert canary.histogram.counts == (60, 40)
    assert canary.mean_latency == pytest.approx(0.095)
    assert canary.versions == ("2.0",) and canary.pods == ("p-c",)
    assert found["b"].requests == 20 and found["b"].histogram.total == 0


def test_a_revision_without_build_info_in_the_window_is_not_found() -> None:
    info = [_series("sre_platform_build_info", "b", [(1.0, 1.0)])]
    found = revisions_from_series([], info, ["c", "b"], start=0.0, end=20.0)
    assert set(found) == {"b"}
    assert revisions_from_series([], info, ["b"], start=5.0, end=20.0) == {}


def test_promql_string_literals_escape_quotes_and_backslashes() -> None:
    assert string_literal('/api/"x"\\d') == '"/api/\\"x\\"\\\\d"'


# ---- the request contract -----------------------------------------------------------------

REQUEST = {"namespace": "production", "canaryHash": "6d4f9c7b8", "baselineHash": "5c8b7d6f9"}


def test_defaults_and_camel_case() -> None:
    request = JudgeRequest.model_validate(
        {**REQUEST, "window": "1m30s", "latencyTail": {"maxIncrease": 0.01}}
    )
    assert request.window_seconds == 90.0
    assert request.latency_tail.max_increase == 0.01
    assert request.latency_tail.seconds == 0.25
    assert request.thresholds().min_requests == Thresholds().min_requests
    assert request.end_seconds(now=123.0) == 123.0


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"canaryHash": 'x"} or vector(1) #'}, "canaryHash"),
        ({"namespace": "Prod_1"}, "namespace"),
        ({"baselineHash": "6d4f9c7b8"}, "compared with itself"),
        ({"window": "2 minutes"}, "not a duration"),
        ({"window": "1s"}, "outside"),
        ({"routeRegex": "/api/(("}, "not a regular expression"),
        ({"score": {"pass": 70, "marginal": 80}}, "above score.pass"),
        (
            {"latency": {"weight": 0}, "latencyTail": {"weight": 0}, "errors": {"weight": 0}},
            "sum to 0",
        ),
        ({"alpha": 0.7}, "alpha"),
        ({"minRequests": 5}, "greater than or equal to 20"),
        ({"minimumRequests": 5}, "minimumRequests"),
    ],
)
def test_malformed_requests_are_refused_with_the_reason(
    change: dict[str, object], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        JudgeRequest.model_validate({**REQUEST, **change})


def test_durations() -> None:
    assert duration_seconds("2m") == 120.0
    assert duration_seconds("500ms") == 0.5
    assert duration_seconds("45") == 45.0
    with pytest.raises(ValueError):
        duration_seconds("2m x")


# ---- the validate tier's revisions ------------------------------------------------------------


def _rs(pod_hash: str, revision: str | None) -> dict[str, object]:
    annotations = {} if revision is None else {"rollout.argoproj.io/revision": revision}
    return {
        "metadata": {
            "labels": {"rollouts-pod-template-hash": pod_hash},
            "annotations": annotations,
        }
    }


def test_revisions_of_picks_the_stable_one_and_the_one_before_it() -> None:
    rollout = {"status": {"stableRS": "c3"}}
    replicasets = [_rs("a1", "1"), _rs("c3", "7"), _rs("b2", "5"), _rs("d4", "8"), _rs("x", None)]
    assert revisions_of(rollout, replicasets) == Revisions(current="c3", previous="b2")
    assert revisions_of(rollout, [_rs("c3", "1")]) == Revisions("c3", None)


@pytest.mark.parametrize(
    ("rollout", "message"),
    [({"status": {}}, "never became healthy"), ({"status": {"stableRS": "zz"}}, "zz")],
)
def test_revisions_of_a_rollout_without_them_is_an_error(
    rollout: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        revisions_of(rollout, [_rs("c3", "7")])
