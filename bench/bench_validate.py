"""How long the validate tier takes on the lab (goal: under 30 s), as a user runs it.

Against the lab's own environment (environments/lab.yaml) when `make lab-deploy` has
deployed it and its service answers; otherwise against a scratch environment built like
the tier's self-tests (suites/validate/selftest/scratch.py), whose setup is not counted.
Each figure is the wall time of a whole `pytest suites/validate ...` process, imports
and all, the median of RUNS runs.
"""

from __future__ import annotations

import contextlib
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "app"), str(REPO / "suites" / "validate" / "selftest")]

from scratch import backing_service, read_junit, scratch_environment  # noqa: E402

from fixtures.cluster import Cluster  # noqa: E402
from fixtures.lab import control_plane  # noqa: E402
from fixtures.lab.layout import CONTEXT, kubeconfig_path, prometheus_url  # noqa: E402
from fixtures.validate.environment import load  # noqa: E402

RUNS = 3
GOAL_SECONDS = 30


def lab_environment_deployed() -> Path | None:
    """environments/lab.yaml when its service answers (make lab-deploy), else None."""
    env = load("lab")
    try:
        requests.get(f"{env.base_url}/healthz", timeout=2)
    except requests.RequestException:
        return None
    return env.file


@contextlib.contextmanager
def environment_file() -> Iterator[tuple[str, Path]]:
    deployed = lab_environment_deployed()
    if deployed is not None:
        yield "lab (environments/lab.yaml)", deployed
        return
    cluster = Cluster("lab", kubeconfig_path(), CONTEXT, False, prometheus_url())
    start = time.perf_counter()
    with (
        tempfile.TemporaryDirectory() as tmp,
        backing_service() as service,
        scratch_environment(cluster, service.url, Path(tmp)) as env,
    ):
        print(f"validate-scratch-setup: {time.perf_counter() - start:.1f} s (not counted)")
        yield f"scratch namespace {env.namespace}", env.env_file()


def run_tier(env_file: Path, *extra: str) -> tuple[float, dict[str, int]]:
    with tempfile.TemporaryDirectory() as tmp:
        junit = Path(tmp) / "junit.xml"
        argv = [sys.executable, "-m", "pytest", "suites/validate", "-q", "-p", "no:cacheprovider",
                f"--junitxml={junit}", "--env-file", str(env_file), *extra]  # fmt: skip
        start = time.perf_counter()
        proc = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, check=False)
        seconds = time.perf_counter() - start
        if proc.returncode not in (0, 1) or not junit.is_file():
            raise SystemExit(
                f"bench-validate: the tier ended with {proc.returncode}:\n{proc.stdout[-3000:]}"
                f"{proc.stderr[-2000:]}"
            )
        counts: dict[str, int] = {}
        for check in read_junit(junit).values():
            counts[check["result"]] = counts.get(check["result"], 0) + 1
    return seconds, counts


def main() -> int:
    if not control_plane.is_up():
        print("bench-validate: the lab is not up; run 'make lab-up' first", file=sys.stderr)
        return 1
    token = control_plane.register_user()  # bench-lab must not restart the lab under us
    try:
        with environment_file() as (what, env_file):
            print(f"validate-environment: {what}")
            for label, extra in (("validate-tier", ()), ("validate-tier-full", ("--full",))):
                runs = [run_tier(env_file, *extra) for _ in range(RUNS)]
                seconds = statistics.median(s for s, _ in runs)
                counts = ", ".join(f"{n} {k.lower()}" for k, n in sorted(runs[-1][1].items()))
                print(f"{label}: {seconds:.1f} s (median of {RUNS}; {counts}; goal < "
                      f"{GOAL_SECONDS} s)")  # fmt: skip
    finally:
        control_plane.release_user(token)
    return 0


if __name__ == "__main__":
    sys.exit(main())
