"""Benchmark of the sre-platform service on loopback; run it through `bench/bench-service`.

Starts PostgreSQL, Redis and `python -m sre_platform serve` (uvicorn, WEB_CONCURRENCY
workers), loads it with wrk, prints `<name>: <value> <unit>` lines on stdout and stops
everything. Exit codes: 0 measured, 64 bad arguments, 69 a prerequisite is missing or a
server would not start, 1 wrk failed.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import benchargs  # bench/, sys.path[0] of a script here

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "app"))

from sre_platform.config import LOG_LEVELS  # noqa: E402 - needs the path above
from tests.localservers import (  # noqa: E402
    PostgresServer,
    RedisServer,
    ServerError,
    ServiceProcess,
)

EX_UNAVAILABLE = 69
PACED_CONNECTIONS = 10
_UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _args(argv: list[str]) -> argparse.Namespace:
    parser = benchargs.parser("bench/bench-service", __doc__)
    parser.add_argument("--duration", type=int, default=10, help="seconds per case (10)")
    parser.add_argument("--connections", type=int, default=32, help="open connections (32)")
    parser.add_argument("--threads", type=int, default=1, help="wrk threads (1)")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn workers (1)")
    parser.add_argument(
        "--paced-rate",
        type=int,
        default=700,
        help="requests/s of the paced cached-read case, which measures latency at a given "
        "load rather than at saturation (700)",
    )
    parser.add_argument(
        "--log-level",
        default="info",
        choices=LOG_LEVELS,
        help="the service's LOG_LEVEL (info, as deployed)",
    )
    args = parser.parse_args(argv)
    for name in ("duration", "connections", "threads", "workers", "paced_rate"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.threads > args.connections:
        parser.error("--threads must not exceed --connections")
    return args


@dataclass
class Result:
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    errors: int
    requests: int
    cpu_seconds: float = 0.0


def process_tree_cpu_seconds(pid: int) -> float:
    """User + system CPU time of `pid` and its descendants (uvicorn workers), from /proc.

    Requests/s on a shared 2-core machine swing with whatever else runs; CPU time per
    request does not, so it is the figure to compare between changes.
    """
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / ticks
            for task in Path(f"/proc/{current}/task").iterdir():
                pending += [int(c) for c in (task / "children").read_text().split()]
        except (OSError, ValueError, IndexError):
            continue  # the process ended meanwhile
    return total


def _to_ms(value: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value)
    if not match:
        raise ValueError(f"unexpected wrk latency {value!r}")
    return float(match[1]) * _UNIT_MS[match[2]]


def parse_wrk(output: str) -> Result:
    rps = re.search(r"^Requests/sec:\s+([\d.]+)", output, re.M)
    p50 = re.search(r"^\s+50%\s+(\S+)", output, re.M)
    p99 = re.search(r"^\s+99%\s+(\S+)", output, re.M)
    if not (rps and p50 and p99):
        raise ValueError(f"cannot read wrk's output:\n{output}")
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    total = re.search(r"^\s+(\d+) requests in", output, re.M)
    errors = int(non_2xx[1]) if non_2xx else 0
    if socket_errors:
        errors += sum(int(n) for n in socket_errors.groups())
    requests = int(total[1]) if total else 0
    return Result(float(rps[1]), _to_ms(p50[1]), _to_ms(p99[1]), errors, requests)


def run_wrk(
    args: argparse.Namespace,
    service_pid: int,
    url: str,
    script: Path | None = None,
    *,
    connections: int | None = None,
    env: dict[str, str] | None = None,
) -> Result:
    conns = connections or args.connections
    threads = min(args.threads, conns)
    argv = ["wrk", f"-t{threads}", f"-c{conns}", f"-d{args.duration}s"]
    argv += ["--latency", "--timeout", "5s"]
    if script:
        argv += ["-s", str(script)]
    cpu_before = process_tree_cpu_seconds(service_pid)
    done = subprocess.run(
        [*argv, url], capture_output=True, text=True, check=False, env={**os.environ, **(env or {})}
    )
    cpu = process_tree_cpu_seconds(service_pid) - cpu_before
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr.strip()}")
    result = parse_wrk(done.stdout)
    result.cpu_seconds = cpu
    return result


def _request(method: str, url: str, body: dict[str, object] | None = None) -> dict[str, object]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)  # noqa: S310 - loopback
    request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        return dict(json.loads(response.read()))


def report(name: str, result: Result) -> None:
    print(f"{name}-requests-per-second: {result.requests_per_second:.0f} req/s")
    print(f"{name}-p50: {result.p50_ms:.2f} ms")
    print(f"{name}-p99: {result.p99_ms:.2f} ms")
    print(f"{name}-errors: {result.errors} count")
    if result.requests:
        print(
            f"{name}-service-cpu-per-request: {result.cpu_seconds / result.requests * 1e6:.0f} us"
        )
    sys.stdout.flush()


def main(argv: list[str]) -> int:
    args = _args(argv)
    if shutil.which("wrk") is None:
        print("bench-service: wrk is not installed; run 'make setup'", file=sys.stderr)
        return EX_UNAVAILABLE
    servers: list[PostgresServer | RedisServer | ServiceProcess] = []
    try:
        postgres = PostgresServer(durable=True)
        servers.append(postgres)
        postgres.start()
        redis_server = RedisServer()
        servers.append(redis_server)
        redis_server.start()
        service = ServiceProcess(
            {
                "DATABASE_URL": postgres.create_database("sre_platform"),
                "REDIS_URL": redis_server.url,
                "MIGRATE_ON_START": "true",
                "WEB_CONCURRENCY": str(args.workers),
                "LOG_LEVEL": args.log_level,
            }
        )
        servers.append(service)
        service.start()
        print(
            f"bench-service: {args.workers} uvicorn worker(s), wrk -t{args.threads} "
            f"-c{args.connections} -d{args.duration}s (paced case: {PACED_CONNECTIONS} "
            f"connections offering ~{args.paced_rate} req/s), PostgreSQL with fsync on, "
            f"LOG_LEVEL={args.log_level}",
            file=sys.stderr,
        )
        item = _request("POST", f"{service.url}/api/v1/items", {"name": "bench"})
        item_url = f"{service.url}/api/v1/items/{item['id']}"
        _request("GET", item_url)  # now cached
        pid = service.pid
        report("service-get-cached", run_wrk(args, pid, item_url))
        # Paced: PACED_CONNECTIONS connections, each waiting so that together they offer
        # about --paced-rate requests/s.
        delay_ms = PACED_CONNECTIONS * 1000 / args.paced_rate
        paced = run_wrk(
            args,
            pid,
            item_url,
            HERE / "paced.lua",
            connections=PACED_CONNECTIONS,
            env={"BENCH_DELAY_MS": f"{delay_ms:.3f}"},
        )
        report("service-get-cached-paced", paced)
        items_url = f"{service.url}/api/v1/items"
        report("service-post", run_wrk(args, pid, items_url, HERE / "post-item.lua"))
    except ServerError as exc:
        print(f"bench-service: {exc}", file=sys.stderr)
        return EX_UNAVAILABLE
    except (RuntimeError, ValueError, OSError) as exc:
        print(f"bench-service: {exc}", file=sys.stderr)
        return 1
    finally:
        for server in reversed(servers):
            server.cleanup()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
