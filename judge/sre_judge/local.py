"""The judge as a local process beside the lab's Prometheus (the lab has no cluster DNS
for a Deployment to be reached by, and its Argo Rollouts controller runs on this host).

    python -m sre_judge.local start [--port 16970] [--prometheus-url http://127.0.0.1:16900]
                                    [--host 127.0.0.1]
    python -m sre_judge.local stop | status

Listens on 127.0.0.1:16970 (+ SRE_PLATFORM_LAB_PORT_OFFSET), the URL of `analysis.judge.url`
in helm/values-lab*.yaml; on a kind cluster the e2e scenarios start it on the cluster
network's gateway, with the cluster's Prometheus (fixtures/e2e/judge.py). State in the
lab's directory ($SRE_PLATFORM_LAB_DIR, default $SRE_PLATFORM_CACHE/lab):
`run/sre-judge.json` ({pid, starttime, argv}, the lab's own record format, so the lab's
tooling can find and stop it), `logs/sre-judge.log`. Self-contained
(standard library only): it does not import the lab's fixtures.

Exit codes: 0 ok (status: running), 1 status: not running, 64 usage, 69 the judge did not
come up (the message carries its log's tail), 75 it did not answer in time.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess  # nosec B404
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

NAME = "sre-judge"
PORT = 16970
PROMETHEUS_URL = "http://127.0.0.1:16900"
HOST = "127.0.0.1"
EX_OK, EX_NOT_RUNNING, EX_USAGE, EX_UNAVAILABLE, EX_TEMPFAIL = 0, 1, 64, 69, 75
PACKAGE_DIR = Path(__file__).resolve().parents[1]  # judge/: what PYTHONPATH needs


class LocalJudgeError(RuntimeError):
    def __init__(self, message: str, code: int = EX_UNAVAILABLE) -> None:
        super().__init__(message)
        self.code = code


def _offset() -> int:
    return int(os.environ.get("SRE_PLATFORM_LAB_PORT_OFFSET", "0"))


def lab_dir() -> Path:
    explicit = os.environ.get("SRE_PLATFORM_LAB_DIR")
    if explicit:
        return Path(explicit)
    cache = os.environ.get("SRE_PLATFORM_CACHE") or str(
        Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "sre-platform"
    )
    return Path(cache) / "lab"


def record_path() -> Path:
    return lab_dir() / "run" / f"{NAME}.json"


def log_path() -> Path:
    return lab_dir() / "logs" / f"{NAME}.log"


def _starttime(pid: int) -> str | None:
    """Field 22 of /proc/<pid>/stat: tells our process from a later one with its pid."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return None
    return fields[19] if len(fields) > 19 and fields[0] != "Z" else None


@dataclass(frozen=True)
class Running:
    pid: int
    url: str


def _load() -> tuple[int, str, list[str]] | None:
    try:
        data = json.loads(record_path().read_text())
        return int(data["pid"]), str(data["starttime"]), list(data.get("argv") or [])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _url_of(argv: list[str]) -> str:
    host = argv[argv.index("--host") + 1] if "--host" in argv else HOST
    port = argv[argv.index("--port") + 1] if "--port" in argv else str(PORT)
    return f"http://{host}:{port}"


def status() -> Running | None:
    """The recorded judge if it still runs (a reused pid is not it)."""
    loaded = _load()
    if loaded is None:
        return None
    pid, started, argv = loaded
    if _starttime(pid) != started:
        return None
    return Running(pid, _url_of(argv))


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/healthz", timeout=1) as response:  # noqa: S310  # nosec B310
            return bool(response.status == 200)
    except OSError:
        return False


def _tail(lines: int = 20) -> str:
    try:
        return "\n".join(log_path().read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def start(
    port: int | None = None,
    prometheus_url: str = PROMETHEUS_URL,
    timeout: float = 30.0,
    host: str = HOST,
) -> Running:
    """Start the judge (idempotent: a running one on the same address is kept) and wait
    until it answers. `host`: the address it listens on (a kind cluster's pods reach this
    host at their network's gateway)."""
    running = status()
    if running is not None and _healthy(running.url) and f"//{host}:" in running.url:
        return running
    if running is not None:
        stop()
    port = PORT + _offset() if port is None else port
    argv = [
        sys.executable, "-m", "sre_judge", "serve",
        "--host", host, "--port", str(port), "--prometheus-url", prometheus_url,
    ]  # fmt: skip
    log_path().parent.mkdir(parents=True, exist_ok=True)
    record_path().parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONPATH": str(PACKAGE_DIR)}
    with log_path().open("ab") as log:
        proc = subprocess.Popen(  # noqa: S603  # nosec B603
            argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
            start_new_session=True,  # outlives the command that started it
        )  # fmt: skip
    started = _starttime(proc.pid) or ""
    record_path().write_text(json.dumps({"pid": proc.pid, "starttime": started, "argv": argv}))
    url = f"http://{host}:{port}"
    deadline = time.monotonic() + timeout
    while not _healthy(url):
        if proc.poll() is not None:
            record_path().unlink(missing_ok=True)
            raise LocalJudgeError(f"{NAME} exited with {proc.returncode}:\n{_tail()}")
        if time.monotonic() > deadline:
            stop()
            raise LocalJudgeError(
                f"{NAME} did not answer {url}/healthz in {timeout:g}s", EX_TEMPFAIL
            )
        time.sleep(0.1)
    return Running(proc.pid, url)


def stop(grace: float = 10.0) -> bool:
    """Stop the recorded judge; True if one was running."""
    running = status()
    record_path().unlink(missing_ok=True)
    if running is None:
        return False
    started = _starttime(running.pid)
    with contextlib.suppress(ProcessLookupError):
        os.kill(running.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while _starttime(running.pid) == started and time.monotonic() < deadline:
        time.sleep(0.05)
    if _starttime(running.pid) == started:
        with contextlib.suppress(ProcessLookupError):
            os.kill(running.pid, signal.SIGKILL)
    return True


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EX_USAGE, f"{self.prog}: error: {message}\n")


def main(argv: list[str] | None = None) -> int:
    parser = _Parser(prog="python -m sre_judge.local", description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["start", "stop", "status"])
    parser.add_argument("--port", type=int, help=f"default {PORT} + SRE_PLATFORM_LAB_PORT_OFFSET")
    parser.add_argument("--prometheus-url", default=PROMETHEUS_URL)
    parser.add_argument("--host", default=HOST, help=f"the address to listen on (default {HOST})")
    args = parser.parse_args(argv)
    try:
        if args.command == "start":
            running = start(args.port, args.prometheus_url, host=args.host)
            print(f"{NAME}: running, pid {running.pid}, {running.url} (log {log_path()})")
        elif args.command == "stop":
            print(f"{NAME}: {'stopped' if stop() else 'was not running'}")
        else:
            found = status()
            if found is None:
                print(f"{NAME}: not running")
                return EX_NOT_RUNNING
            print(f"{NAME}: running, pid {found.pid}, {found.url}")
    except LocalJudgeError as err:
        print(f"{NAME}: {err}", file=sys.stderr)
        return err.code
    return EX_OK


if __name__ == "__main__":
    raise SystemExit(main())
