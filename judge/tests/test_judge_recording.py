"""The judge on RECORDED real-service data (judge/tests/data/real-service.json.gz, made by
`bench/bench-judge --record`): four real service processes under the same load, two of
them identical (stable1, stable2), one with FAULT_LATENCY_MS=200 (slow3), one with
FAULT_ERROR_RATE=0.006 (errs4). bench/bench-judge reports the rates; these tests hold the
verdicts and the replay path."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import requests
from judge_recording import RECORDING, Recording, backfill, load, save
from judge_servers import JudgeProcess, PrometheusServer

from sre_judge.model import Thresholds
from sre_judge.series import revisions_from_series
from sre_judge.verdict import RevisionWindow, judge

WINDOW = 30.0


@pytest.fixture(scope="module")
def recording() -> Recording:
    return load(RECORDING)


def _windows(recording: Recording) -> list[float]:
    first = recording.start + 10 + WINDOW
    return [first + i * WINDOW for i in range(int((recording.end - first) // WINDOW) + 1)]


def _revisions(recording: Recording, end: float) -> dict[str, RevisionWindow]:
    """In-process, what the judge's queries select: build info, and the API routes' series
    (routeRegex; the recording also holds /healthz and /metrics)."""
    info = [s for s in recording.series if s.labels["__name__"] == "sre_platform_build_info"]
    api = [s for s in recording.series if re.fullmatch("/api/.*", s.labels.get("route", ""))]
    return revisions_from_series(
        api, info, ["stable1", "stable2", "slow3", "errs4"], end - WINDOW, end
    )


def test_save_and_load_keep_every_sample(recording: Recording, tmp_path: Path) -> None:
    copy = tmp_path / "copy.json.gz"
    save(copy, recording.meta, recording.series)
    again = load(copy)
    assert sorted(map(repr, again.series)) == sorted(map(repr, recording.series))
    assert len(recording.series) > 50 and recording.end - recording.start > 600


def test_recorded_regressions_fail_and_a_over_a_passes(recording: Recording) -> None:
    windows = _windows(recording)
    assert len(windows) >= 20
    verdicts: dict[str, list[str]] = {"aa": [], "slow": [], "errors": []}
    for end in windows:
        rev = _revisions(recording, end)
        verdicts["aa"].append(judge(rev["stable2"], rev["stable1"], Thresholds()).result)
        verdicts["slow"].append(judge(rev["slow3"], rev["stable1"], Thresholds()).result)
        verdicts["errors"].append(judge(rev["errs4"], rev["stable1"], Thresholds()).result)
    n = len(windows)
    assert verdicts["aa"].count("pass") >= 0.95 * n, verdicts["aa"]
    assert verdicts["slow"].count("fail") >= 0.9 * n, verdicts["slow"]
    assert verdicts["errors"].count("fail") >= 0.8 * n, verdicts["errors"]


@pytest.mark.slow
def test_replay_through_prometheus_gives_the_in_process_verdict(recording: Recording) -> None:
    """Backfilled into a real Prometheus and asked over HTTP, a recorded window gets the
    same counts and verdict as read in-process: the bench measures the real path."""
    end = _windows(recording)[3]
    rev = _revisions(recording, end)
    expected = judge(rev["slow3"], rev["stable1"], Thresholds())
    prometheus = PrometheusServer()
    try:
        backfill(recording, prometheus.storage)
        prometheus.start()
        with JudgeProcess(prometheus.url) as judge_process:
            body = {
                "namespace": "bench",
                "canaryHash": "slow3",
                "baselineHash": "stable1",
                "window": f"{WINDOW:g}s",
                "end": end,
            }
            answer = requests.post(f"{judge_process.url}/v1/judge", json=body, timeout=30).json()
    finally:
        prometheus.cleanup()
    assert answer["result"] == expected.result
    assert answer["canary"]["requests"] == expected.canary.requests
    assert answer["baseline"]["requests"] == expected.baseline.requests
