"""The tier's command line as a user meets it (real pytest subprocesses, started together)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from policies.catalogue import load_catalogue

ROOT = Path(__file__).resolve().parents[3]


def _start(*args: str) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "pytest", "suites/static", "-p", "no:cacheprovider", *args]
    return subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def test_list_policies_and_bad_options() -> None:
    listing = _start("--list-policies")
    missing = _start("--chart", "no-such-chart")
    out, _ = listing.communicate(timeout=60)
    lines = out.strip().splitlines()
    rules = load_catalogue().rules
    assert listing.returncode == 0
    assert lines[-1] == f"{len(rules)} rules"
    assert all(line.split()[0] == rule.id for line, rule in zip(lines, rules, strict=False))
    assert "pod-security/run-as-non-root" in out and "error" in out
    _, err = missing.communicate(timeout=60)
    assert missing.returncode == 66, err
    assert "no-such-chart" in err and "Traceback" not in err
