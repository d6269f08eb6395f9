"""Print the e2e tier's figures (bench/bench-e2e): wall times of its runs, each test's
duration from the run's JUnit report, and the abort times the scenarios recorded
(reports/e2e-figures.json, written by suites/e2e/conftest.py).

Usage: python bench/bench_e2e.py <prefix> <runs.json> <junit.xml> <figures.json>
       python bench/bench_e2e.py --save-durations <junit.xml>
"""

from __future__ import annotations

import json
import signal
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

GOAL_SECONDS = 300  # issue 19: the lab tier under 5 minutes on 2 cores
SHOWN_SECONDS = 5.0  # shorter tests are counted, not listed


def runs(prefix: str, path: Path) -> None:
    """The wall time of each run of the last bench (serial and/or parallel)."""
    if not path.is_file():
        return
    recorded: dict[str, dict[str, Any]] = json.loads(path.read_text())
    for name, run in recorded.items():
        workers = run["workers"]
        how = "one process" if workers == 0 else f"{workers} xdist workers"
        print(
            f"{prefix}-wall-{name}: {run['seconds']} s ({how}, pytest exit {run['exit']}, "
            f"log {run['log']}; goal <= {GOAL_SECONDS} s)"
        )
    if {"serial", "parallel"} <= recorded.keys() and recorded["parallel"]["seconds"]:
        speedup = recorded["serial"]["seconds"] / recorded["parallel"]["seconds"]
        print(f"{prefix}-speedup: {speedup:.2f}x (serial wall / parallel wall)")


def tests(prefix: str, path: Path) -> None:
    """Every test's duration (setup + call + teardown) from JUnit, longest first."""
    if not path.is_file():
        return
    rows = []
    skipped = 0
    # The JUnit report pytest just wrote in this checkout: trusted input.
    for case in ET.parse(path).getroot().iter("testcase"):  # noqa: S314
        outcome = next((c.tag for c in case if c.tag in ("failure", "error", "skipped")), "")
        if outcome == "skipped":
            skipped += 1
            continue
        module = case.get("classname", "").rsplit(".", 1)[-1]
        rows.append((float(case.get("time", 0)), f"{module}.py::{case.get('name')}", outcome))
    shown = [row for row in sorted(rows, reverse=True) if row[0] >= SHOWN_SECONDS or row[2]]
    for seconds, name, outcome in shown:
        print(f"{prefix}-test {name}: {seconds:.1f} s{f' ({outcome})' if outcome else ''}")
    rest = sum(row[0] for row in rows) - sum(row[0] for row in shown)
    print(
        f"{prefix}-tests: {len(rows)} run ({len(rows) - len(shown)} under {SHOWN_SECONDS:.0f} s "
        f"each: {rest:.1f} s together), {skipped} skipped (JUnit {path.name})"
    )


def timeline(prefix: str, spans: dict[str, dict[str, Any]]) -> None:
    """How busy each worker was, and how long serial tests had the lab alone."""
    if not spans:
        return
    start = min(s["start"] for s in spans.values())
    stop = max(s["stop"] for s in spans.values())
    workers: dict[str, list[dict[str, Any]]] = {}
    for span in spans.values():
        workers.setdefault(span["worker"], []).append(span)
    for worker, own in sorted(workers.items()):
        busy = sum(s["stop"] - s["start"] for s in own)
        print(
            f"{prefix}-worker {worker}: {busy:.0f} s in {len(own)} tests (running, or waiting "
            f"for a serial one) of {stop - start:.0f} s ({busy / (stop - start):.0%})"
        )
    alone, reach = 0.0, start  # the union of the serial tests' spans (one may wait for another)
    for span in sorted((s for s in spans.values() if s.get("serial")), key=lambda s: s["start"]):
        alone += max(0.0, span["stop"] - max(span["start"], reach))
        reach = max(reach, span["stop"])
    print(f"{prefix}-serial-tests: {alone:.0f} s with the lab to themselves (or waiting for it)")


def figures(prefix: str, path: Path) -> None:
    """The session's total and the abort times of the bad-canary scenarios (2-4)."""
    if not path.is_file():
        return
    data = json.loads(path.read_text())
    scenarios: dict[str, dict[str, Any]] = data["scenarios"]
    print(
        f"{prefix}-total: {data.get('total_seconds', 0.0):.1f} s (pytest session, "
        f"{len(scenarios)} scenarios, exit {data.get('exit_status', '?')})"
    )
    timeline(prefix, data.get("timeline", {}))
    for nodeid, entry in scenarios.items():
        if "abort_seconds_after_update" not in entry:
            continue
        # test_canary's faults are parameters; another test (the judge's) goes by its name
        fault = nodeid.rsplit("[", 1)[-1].rstrip("]") if "[" in nodeid else nodeid.split("::")[-1]
        interval = entry.get("analysis_interval_seconds")
        goal = (
            f"analysis interval {interval:.0f} s; goal <= {2 * interval:.0f} s"
            if interval
            else "no analysis interval recorded"
        )
        print(
            f"{prefix}-abort-{fault}: {entry['abort_seconds_after_update']:.1f} s after the "
            f"update, {entry['abort_seconds_after_first_bad_measurement']:.1f} s after the "
            f"first bad measurement ({goal})"
        )


def save_durations(junit: Path) -> int:
    """suites/e2e/durations.json from a run's JUnit (fixtures/e2e/durations.py)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repository's
    from fixtures.e2e import durations  # only here: printing figures needs no pytest plugin
    from fixtures.e2e.parallel import GROUPS

    count = durations.save(junit, groups=tuple(GROUPS))
    if not count:
        print(f"bench-e2e: no test durations in {junit}", file=sys.stderr)
        return 1
    print(f"bench-e2e: {count} tests' durations written to {durations.COMMITTED}")
    return 0


def main(argv: list[str]) -> int:
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # `| head` ends the output, not a traceback
    if len(argv) == 2 and argv[0] == "--save-durations":
        return save_durations(Path(argv[1]))
    if len(argv) != 4:
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 64
    prefix, run_file, junit, figure_file = argv[0], Path(argv[1]), Path(argv[2]), Path(argv[3])
    if not junit.is_file() and not figure_file.is_file():
        print(f"bench-e2e: no figures ({junit} and {figure_file} are missing)", file=sys.stderr)
        return 1
    runs(prefix, run_file)
    figures(prefix, figure_file)
    tests(prefix, junit)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
