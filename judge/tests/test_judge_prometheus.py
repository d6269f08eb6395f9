"""The judge as a real process against a REAL Prometheus that scrapes generated pods.

Pods of six revisions in namespace judge-it, scraped every second (judge_servers.py):
  base1  baseline, 2 pods          same2  the same distribution (an A/A canary)
  slow3  +0.26 s on every request  errs4  0.6% of requests answer 500
  prev5  serves for the first 7 s, then is gone; curr6 (+0.26 s) takes over
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
import requests
from judge_samples import latencies
from judge_servers import (
    JUDGE_DIR,
    JudgeProcess,
    PrometheusServer,
    SyntheticExporter,
    SyntheticPod,
)

from fixtures.validate.judge import JudgeUnavailable, judge_revisions
from sre_judge.live import judge_live
from sre_judge.model import Thresholds
from sre_judge.series import UnknownRevision
from tests.localservers import free_port, wait_until

pytestmark = pytest.mark.slow

NS = "judge-it"
WINDOW = "8s"
SCRAPES_NEEDED = 16


def _fast(rng: np.random.Generator, n: int) -> Any:
    return latencies(rng, n)


def _slow(rng: np.random.Generator, n: int) -> Any:
    return latencies(rng, n, shift=0.26)


@dataclass
class Setup:
    exporter: SyntheticExporter
    prometheus: PrometheusServer
    judge: JudgeProcess

    def post(self, canary: str, baseline: str, **extra: Any) -> requests.Response:
        body = {"namespace": NS, "canaryHash": canary, "baselineHash": baseline, "window": WINDOW}
        return requests.post(f"{self.judge.url}/v1/judge", json={**body, **extra}, timeout=30)


@pytest.fixture(scope="module")
def setup() -> Iterator[Setup]:
    def pod(name: str, revision: str, **kwargs: Any) -> SyntheticPod:
        return SyntheticPod(NS, name, revision, kwargs.pop("latency", _fast), **kwargs)

    pods = [
        pod("web-base1-a", "base1", per_scrape=150),
        pod("web-base1-b", "base1", per_scrape=150),
        pod("web-same2-a", "same2", per_scrape=150),
        pod("web-slow3-a", "slow3", latency=_slow, per_scrape=150),
        pod("web-errs4-a", "errs4", error_rate=0.006, per_scrape=300),
        pod("web-prev5-a", "prev5", stop=7.0, per_scrape=150),
        pod("web-curr6-a", "curr6", latency=_slow, start=7.0, per_scrape=150),
    ]
    with SyntheticExporter(pods) as exporter, PrometheusServer([exporter.target]) as prometheus:
        wait_until(
            lambda: exporter.scrapes >= SCRAPES_NEEDED,
            f"{SCRAPES_NEEDED} scrapes of the generated pods",
            timeout=90,
        )
        time.sleep(1.5)  # the last scrape is ingested and queryable
        with JudgeProcess(prometheus.url) as judge:
            yield Setup(exporter, prometheus, judge)


def _metric(body: dict[str, Any], name: str) -> dict[str, Any]:
    return next(m for m in body["metrics"] if m["name"] == name)


def test_a_over_a_passes(setup: Setup) -> None:
    response = setup.post("same2", "base1")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["contract"] == "sre-judge/v1"
    assert body["result"] == "pass", body["reason"]
    assert body["score"] == 100.0
    assert body["canary"]["pods"] == ["web-same2-a"]
    assert len(body["baseline"]["pods"]) == 2
    assert body["canary"]["requests"] >= 100 * 6


def test_slower_canary_fails_on_latency(setup: Setup) -> None:
    body = setup.post("slow3", "base1").json()
    assert body["result"] == "fail"
    assert _metric(body, "latency")["verdict"] == "fail"
    assert _metric(body, "latency-tail")["verdict"] == "fail"
    assert 0.3 < body["canary"]["latency"]["p99Seconds"] < 0.5


def test_erroring_canary_fails_on_errors_with_get(setup: Setup) -> None:
    params = {"namespace": NS, "canaryHash": "errs4", "baselineHash": "base1", "window": WINDOW}
    response = requests.get(f"{setup.judge.url}/v1/judge", params=params, timeout=30)
    body = response.json()
    assert response.status_code == 200, body
    assert _metric(body, "errors")["verdict"] == "fail", _metric(body, "errors")
    assert body["result"] == "fail" and body["score"] == 0.0
    assert body["canary"]["errors"] > 0 and body["baseline"]["errors"] == 0


def test_too_few_requests_is_inconclusive(setup: Setup) -> None:
    body = setup.post("same2", "base1", minRequests=10**7).json()
    assert body["result"] == "inconclusive" and body["score"] is None


def _error(response: requests.Response, status: int, error: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert "Traceback" not in response.text
    body = response.json()
    assert body["error"] == error
    assert body["message"]
    return dict(body)


def test_unknown_hash_is_404_naming_it(setup: Setup) -> None:
    body = _error(setup.post("nosuch7", "base1"), 404, "unknown_revision")
    assert "nosuch7" in body["message"]


@pytest.mark.parametrize(
    ("payload", "mentions"),
    [
        ('{"namespace": "judge-it", ', "JSON"),
        ('{"namespace": "judge-it", "canaryHash": "same2"}', "baselineHash"),
        ('{"namespace": "judge-it", "canaryHash": "a\\"}", "baselineHash": "base1"}', "canaryHash"),
        ('{"namespace": "judge-it", "canaryHash": "same2", "baselineHash": "base1", "x": 1}', "x"),
    ],
)
def test_malformed_requests_are_400(setup: Setup, payload: str, mentions: str) -> None:
    response = requests.post(
        f"{setup.judge.url}/v1/judge",
        data=payload,
        headers={"Content-Type": "application/json"},
        timeout=10,
    )
    body = _error(response, 400, "bad_request")
    assert mentions in " ".join([body["message"], *body["details"]])


def test_a_tail_bound_off_the_buckets_is_422(setup: Setup) -> None:
    response = setup.post("same2", "base1", latencyTail={"seconds": 0.3})
    assert "bucket bound" in _error(response, 422, "not_comparable")["message"]


def test_unreachable_prometheus_is_503() -> None:
    with JudgeProcess(f"http://127.0.0.1:{free_port()}") as judge:
        body = {"namespace": NS, "canaryHash": "same2", "baselineHash": "base1"}
        response = requests.post(f"{judge.url}/v1/judge", json=body, timeout=30)
        assert "unreachable" in _error(response, 503, "prometheus_unreachable")["message"]
        ready = requests.get(f"{judge.url}/readyz", timeout=10)
        assert ready.status_code == 503


def test_something_that_is_not_prometheus_is_503(setup: Setup) -> None:
    with JudgeProcess(f"http://{setup.exporter.target}") as judge:
        body = {"namespace": NS, "canaryHash": "same2", "baselineHash": "base1"}
        response = requests.post(f"{judge.url}/v1/judge", json=body, timeout=30)
        assert "not a Prometheus API" in _error(response, 503, "prometheus_unreachable")["message"]


def test_a_query_prometheus_refuses_is_502(setup: Setup) -> None:
    # A routeRegex Python accepts and Prometheus' RE2 does not (a backreference).
    response = setup.post("same2", "base1", routeRegex="(a)\\1")
    _error(response, 502, "prometheus_error")


def _cli(*args: str, prometheus: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sre_judge", "judge", "--prometheus-url", prometheus, *args],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(JUDGE_DIR)},
        timeout=60,
        check=False,
    )


def test_command_line_exit_codes(setup: Setup) -> None:
    url = setup.prometheus.url
    common = ["--namespace", NS, "--window", WINDOW, "--baseline", "base1"]
    passed = _cli(*common, "--canary", "same2", prometheus=url)
    assert passed.returncode == 0, passed.stderr
    assert json.loads(passed.stdout)["result"] == "pass"
    failed = _cli(*common, "--canary", "slow3", prometheus=url)
    assert failed.returncode == 1 and json.loads(failed.stdout)["result"] == "fail"
    unknown = _cli(*common, "--canary", "nosuch7", prometheus=url)
    assert unknown.returncode == 65 and "nosuch7" in unknown.stderr
    down = _cli(*common, "--canary", "same2", prometheus=f"http://127.0.0.1:{free_port()}")
    assert down.returncode == 69 and "unreachable" in down.stderr
    usage = _cli("--namespace", NS, prometheus=url)
    assert usage.returncode == 64
    for result in (unknown, down, usage):
        assert "Traceback" not in result.stderr


# ---- the validate tier's question: current revision vs the previous one ---------------------


def test_live_current_revision_against_the_previous_one(setup: Setup) -> None:
    """prev5 stopped serving 7 s in; curr6 (slower) served since: the judge finds prev5's
    last window by itself and judges curr6 worse."""
    judgement = judge_live(
        setup.prometheus.url, NS, current="curr6", previous="prev5", window_seconds=5
    )
    assert judgement.result == "fail"
    assert judgement.baseline.window_end < judgement.canary.window_start
    latency = next(m for m in judgement.metrics if m.name == "latency")
    assert latency.verdict == "fail"


def test_live_a_healthy_current_revision_passes(setup: Setup) -> None:
    judgement = judge_live(setup.prometheus.url, NS, "same2", "base1", window_seconds=5)
    assert judgement.result == "pass", judgement.reason


def test_live_without_history_of_the_previous_revision_is_refused(setup: Setup) -> None:
    with pytest.raises(UnknownRevision, match="nosuch7"):
        judge_live(setup.prometheus.url, NS, "curr6", "nosuch7", 5, Thresholds())


# ---- the validate tier's check (fixtures/validate/judge.py) on the same Prometheus ---------


def _rollout_and_replica_sets(*hashes: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A Rollout whose stable revision is the last of `hashes`, and its ReplicaSets numbered
    1..n, as the API returns them."""
    replica_sets = [
        {"metadata": {"labels": {"rollouts-pod-template-hash": h},
                      "annotations": {"rollout.argoproj.io/revision": str(i)}}}
        for i, h in enumerate(hashes, start=1)
    ]  # fmt: skip
    return {"status": {"stableRS": hashes[-1]}}, replica_sets


def test_validate_check_fails_a_worse_current_revision_naming_the_metric(setup: Setup) -> None:
    rollout, replica_sets = _rollout_and_replica_sets("prev5", "curr6")
    section = {
        "url": "http://judge",
        "window": "5s",
        "min_requests": 20,
        "latency": {"max_ratio": 1.2},
    }
    verdict = judge_revisions(setup.prometheus.url, NS, rollout, replica_sets, section)
    assert verdict.failed and verdict.result == "fail", verdict
    assert "latency fail" in verdict.measured and "score" in verdict.measured, verdict
    assert verdict.judgement is not None and verdict.judgement.thresholds.min_requests == 20


def test_validate_check_passes_a_first_revision_saying_so(setup: Setup) -> None:
    rollout, replica_sets = _rollout_and_replica_sets("curr6")
    verdict = judge_revisions(setup.prometheus.url, NS, rollout, replica_sets, {"window": "5s"})
    assert not verdict.failed and verdict.result == "no previous revision", verdict
    assert verdict.measured == "revision curr6 is the first: nothing to compare"


def test_validate_check_without_history_of_the_previous_revision_says_so(setup: Setup) -> None:
    rollout, replica_sets = _rollout_and_replica_sets("nosuch7", "curr6")
    verdict = judge_revisions(setup.prometheus.url, NS, rollout, replica_sets, {"window": "5s"})
    assert not verdict.failed and "served nothing" in verdict.measured, verdict
    assert "nosuch7" in verdict.reason


def test_validate_check_with_prometheus_gone_is_unavailable() -> None:
    rollout, replica_sets = _rollout_and_replica_sets("prev5", "curr6")
    with pytest.raises(JudgeUnavailable, match=r"Prometheus http://127\.0\.0\.1:9"):
        judge_revisions("http://127.0.0.1:9", NS, rollout, replica_sets, {"window": "5s"})
