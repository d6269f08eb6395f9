"""Benchmark of the canary judge on RECORDED real-service data; run it through `bench/bench-judge`.

Replays judge/tests/data/real-service.json.gz, Prometheus series scraped from four real
`python -m sre_platform serve` processes (real PostgreSQL and Redis) under the same wrk
load: two identical revisions (stable1, stable2), one with FAULT_LATENCY_MS (slow3) and
one with FAULT_ERROR_RATE=0.006 (errs4). The recording is backfilled into a fresh
Prometheus (promtool), the judge (`python -m sre_judge serve`) reads it, and each
non-overlapping window is judged over HTTP with the chart's judge thresholds
(helm/values.yaml analysis.judge): A/A in both directions (the false-positive rate) and
each regression against stable1 (the detection rate). Prints a table and
`<name>: <value> <unit>` lines. `--record` makes a new recording (about 13 minutes of
load on this machine; run it under the lab lock so timed tests elsewhere are not starved).

Exit codes: 0 measured, 64 bad arguments, 66 the recording is missing, 69 a prerequisite
(prometheus, promtool, wrk, PostgreSQL) is missing or a server would not start.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import benchargs  # bench/, sys.path[0] of a script here
import requests
import yaml

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
for path in (ROOT / "app", ROOT / "judge", ROOT / "judge" / "tests"):
    sys.path.insert(0, str(path))

from judge_recording import RECORDING, Recording, backfill, load, save  # noqa: E402
from judge_servers import JudgeProcess, PrometheusServer  # noqa: E402

from sre_judge.prometheus import Prometheus  # noqa: E402
from tests.localservers import (  # noqa: E402
    PostgresServer,
    RedisServer,
    ServerError,
    ServiceProcess,
)

EX_NOINPUT, EX_UNAVAILABLE = 66, 69
NAMESPACE = "bench"
BASELINE = "stable1"
# revision -> (role, the service's fault environment)
REVISIONS: dict[str, tuple[str, dict[str, str]]] = {
    "stable1": ("baseline", {}),
    "stable2": ("the same build again (A/A)", {}),
    # +200 ms on every request: p99 ~0.12 s -> ~0.35 s, under the 0.5 s threshold.
    "slow3": ("latency regression", {"FAULT_LATENCY_MS": "200"}),
    "errs4": ("errors 0.6%", {"FAULT_ERROR_RATE": "0.006"}),
}
API = "/api/v1/items?limit=10"


def _args(argv: list[str]) -> argparse.Namespace:
    parser = benchargs.parser("bench/bench-judge", __doc__)
    parser.add_argument("--recording", type=Path, default=RECORDING, help="the recording file")
    parser.add_argument("--window", type=int, default=30, help="seconds per comparison (30)")
    parser.add_argument("--record", action="store_true", help="record anew (real load; slow)")
    parser.add_argument("--duration", type=int, default=780, help="--record: seconds of load")
    parser.add_argument("--rate", type=int, default=80, help="--record: requests/s per revision")
    args = parser.parse_args(argv)
    if args.window < 5 or args.duration < 60 or args.rate < 1:
        parser.error("--window >= 5, --duration >= 60, --rate >= 1")
    return args


# ---- recording ----------------------------------------------------------------------------


def _post_items(url: str, count: int) -> None:
    for i in range(count):
        body = json.dumps({"name": f"bench-{i}", "description": "judge bench"}).encode()
        request = urllib.request.Request(  # noqa: S310 - loopback
            f"{url}/api/v1/items", data=body, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=10):  # noqa: S310
            pass


def record(args: argparse.Namespace) -> int:
    """Four real services under the same paced wrk load, scraped every 5 s."""
    # Each wrk connection sends a request, waits for the answer, then waits delay_ms: a
    # revision with more latency gets more connections so every revision sees ~rate req/s.
    delay_ms = 100.0
    with ExitStack() as stack:
        postgres = PostgresServer()
        stack.callback(postgres.cleanup)
        postgres.start()
        redis = RedisServer()
        stack.callback(redis.cleanup)
        redis.start()
        database = postgres.create_database("bench_judge")
        services: dict[str, ServiceProcess] = {}
        for revision, (_, faults) in REVISIONS.items():
            env = {
                "DATABASE_URL": database,
                "REDIS_URL": redis.url,
                "MIGRATE_ON_START": "true",
                "LOG_LEVEL": "warning",
                "APP_VERSION": "1.0.0" if revision.startswith("stable") else f"1.1.0-{revision}",
                **faults,
            }
            service = ServiceProcess(env)
            stack.callback(service.cleanup)
            service.start()
            services[revision] = service
        _post_items(services[BASELINE].url, 20)
        targets = [
            {
                "targets": [f"127.0.0.1:{s.port}"],
                "labels": {
                    "namespace": NAMESPACE,
                    "pod": f"sre-platform-{revision}-0",
                    "rollouts_pod_template_hash": revision,
                },
            }
            for revision, s in services.items()
        ]
        prometheus = stack.enter_context(PrometheusServer(interval="5s", labelled_targets=targets))
        time.sleep(6)  # one scrape before the load: every counter has a starting sample
        print(
            f"bench-judge: recording {args.duration}s of load, {args.rate} req/s on each of "
            f"{', '.join(services)}",
            file=sys.stderr,
        )
        loads = []
        for revision, service in services.items():
            extra_ms = float(REVISIONS[revision][1].get("FAULT_LATENCY_MS", "0"))
            connections = max(1, round(args.rate * (delay_ms + 5 + extra_ms) / 1000))
            argv = ["wrk", "-t1", f"-c{connections}", f"-d{args.duration}s", "--timeout", "5s"]
            argv += ["-s", str(HERE / "paced.lua"), f"{service.url}{API}"]
            env = {**os.environ, "BENCH_DELAY_MS": f"{delay_ms:g}"}
            loads.append(
                subprocess.Popen(
                    argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
                )
            )
        outputs = [p.communicate()[0] for p in loads]
        time.sleep(7)  # the last scrape
        end = time.time()
        source = Prometheus(prometheus.url)
        names = "sre_platform_build_info|http_requests_total|http_request_duration_seconds_.*"
        series = source.range_selector(
            f'{{__name__=~"{names}", namespace="{NAMESPACE}"}}', args.duration + 60, end
        )
        meta = {
            "recorded_at": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "source": "python -m sre_platform serve x4 (real PostgreSQL 15, Redis), "
            "wrk paced on GET " + API + ", scraped by Debian's Prometheus every 5 s",
            "scrape_interval_seconds": 5,
            "load": {"requests_per_second_per_revision": args.rate, "seconds": args.duration},
            "revisions": {r: {"role": role, "env": env} for r, (role, env) in REVISIONS.items()},
            "wrk": {
                r: out.strip().splitlines()[-2:] for r, out in zip(services, outputs, strict=True)
            },
        }
        save(args.recording, meta, series)
    print(f"bench-judge: wrote {args.recording} ({args.recording.stat().st_size} bytes)")
    return 0


# ---- replay -------------------------------------------------------------------------------


@dataclass
class Case:
    label: str
    canary: str
    baseline: str
    kind: str  # "aa" | "regression"


CASES = [
    Case("A/A stable2 vs stable1", "stable2", "stable1", "aa"),
    Case("A/A stable1 vs stable2", "stable1", "stable2", "aa"),
    Case("latency +200 ms (slow3)", "slow3", BASELINE, "regression"),
    Case("errors 0.6% vs 0% (errs4)", "errs4", BASELINE, "regression"),
]


def chart_thresholds() -> dict[str, Any]:
    """analysis.judge of helm/values.yaml as the chart sends it (jsonBody)."""
    judge = yaml.safe_load((ROOT / "helm" / "values.yaml").read_text())["analysis"]["judge"]
    keys = ("minRequests", "alpha", "latency", "latencyTail", "errors", "score")
    return {k: judge[k] for k in keys}


def windows(recording: Recording, seconds: int) -> Iterator[float]:
    """Ends of non-overlapping windows, the first one a scrape after the recording starts."""
    end = recording.start + 10 + seconds
    while end <= recording.end:
        yield end
        end += seconds


def replay(args: argparse.Namespace) -> int:
    if not args.recording.is_file():
        print(
            f"bench-judge: {args.recording} is missing (bench/bench-judge --record)",
            file=sys.stderr,
        )
        return EX_NOINPUT
    recording = load(args.recording)
    thresholds = chart_thresholds()
    with ExitStack() as stack:
        prometheus = PrometheusServer()
        stack.callback(prometheus.cleanup)
        backfill(recording, prometheus.storage)
        prometheus.start()
        judge = stack.enter_context(JudgeProcess(prometheus.url))
        session = requests.Session()
        results: dict[str, list[dict[str, Any]]] = {c.label: [] for c in CASES}
        timings: list[float] = []
        for end in windows(recording, args.window):
            for case in CASES:
                body = {
                    "namespace": NAMESPACE,
                    "canaryHash": case.canary,
                    "baselineHash": case.baseline,
                    "window": f"{args.window}s",
                    "end": end,
                    **thresholds,
                }
                started = time.perf_counter()
                response = session.post(f"{judge.url}/v1/judge", json=body, timeout=30)
                timings.append(time.perf_counter() - started)
                if response.status_code != 200:
                    print(f"bench-judge: {case.label} at {end}: {response.text}", file=sys.stderr)
                    return 1
                results[case.label].append(response.json())
    _report(recording, args.window, results, timings)
    return 0


def _under_thresholds(side: dict[str, Any]) -> bool:
    p99 = side["latency"]["p99Seconds"]
    return p99 is not None and p99 < 0.5 and (side["errorRate"] or 0) < 0.01


def _rate(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "n/a"


def _report(
    recording: Recording,
    window: int,
    results: dict[str, list[dict[str, Any]]],
    timings: list[float],
) -> None:
    meta = recording.meta
    minutes = (recording.end - recording.start) / 60
    print(
        f"recording: {meta.get('recorded_at')}, {minutes:.1f} min, {meta.get('source')}; "
        f"{window} s windows, the chart's judge thresholds"
    )
    columns = ("n", "pass", "marginal", "fail", "inconcl.", "flagged")
    header = f"{'case':<28} " + " ".join(f"{c:>8}" for c in columns)
    header += "  canary p99 / 5xx (median)"
    print(header)
    print("-" * len(header))
    figures: dict[str, float] = {}
    sub_threshold: list[str] = []
    aa_total = aa_flagged = 0
    for case in CASES:
        rows = results[case.label]
        results_of = ("pass", "marginal", "fail", "inconclusive")
        count = {r: sum(1 for x in rows if x["result"] == r) for r in results_of}
        flagged = len(rows) - count["pass"]
        p99 = statistics.median(x["canary"]["latency"]["p99Seconds"] or 0 for x in rows)
        err = statistics.median(x["canary"]["errorRate"] or 0 for x in rows)
        cells = [len(rows), *count.values(), _rate(flagged, len(rows))]
        print(
            f"{case.label:<28} "
            + " ".join(f"{c:>8}" for c in cells)
            + f"  {p99 * 1000:.0f} ms / {100 * err:.2f}%"
        )
        if case.kind == "aa":
            aa_total += len(rows)
            aa_flagged += flagged
        else:
            # Windows the thresholds pass (p99 < 0.5 s, 5xx < 1%): the judge's own catches.
            under = [x for x in rows if _under_thresholds(x["canary"])]
            caught = sum(1 for x in under if x["result"] != "pass")
            sub_threshold.append(f"{case.label}: {caught} of {len(under)} flagged")
            key = "latency" if case.canary == "slow3" else "errors"
            figures[f"judge-detection-{key}"] = 100 * flagged / max(len(rows), 1)
    baseline_p99 = statistics.median(
        x["baseline"]["latency"]["p99Seconds"] or 0 for x in results[CASES[2].label]
    )
    print(f"baseline (stable1) p99, median over windows: {baseline_p99 * 1000:.0f} ms")
    print("windows inside the thresholds (canary p99 < 0.5 s, 5xx < 1%):", "; ".join(sub_threshold))
    print(f"judge-aa-comparisons: {aa_total} comparisons")
    print(f"judge-false-positive-rate: {100 * aa_flagged / max(aa_total, 1):.1f} % (target <= 5)")
    print(f"judge-detection-latency: {figures['judge-detection-latency']:.1f} % (target >= 90)")
    print(f"judge-detection-errors: {figures['judge-detection-errors']:.1f} %")
    ms = sorted(t * 1000 for t in timings)
    print(f"judge-request-p50: {statistics.median(ms):.0f} ms")
    print(f"judge-request-p95: {ms[int(0.95 * (len(ms) - 1))]:.0f} ms")


def main(argv: list[str]) -> int:
    args = _args(argv)
    try:
        return record(args) if args.record else replay(args)
    except (ServerError, RuntimeError, FileNotFoundError) as err:
        print(f"bench-judge: {err}", file=sys.stderr)
        return EX_UNAVAILABLE


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
