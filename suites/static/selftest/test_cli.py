"""The tier's command line as a user meets it (real pytest subprocesses, started together):
the rule listing, a bad option, another repository (`--repo`: only its findings, none of
this repository's self-tests), a chart that does not render, and manifests piped in."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from policies.catalogue import load_catalogue

ROOT = Path(__file__).resolve().parents[3]
FOREIGN = "suites/static/foreign"


def _start(*args: str, stdin: str | None = None) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "pytest", "suites/static", "-p", "no:cacheprovider", *args]
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    if stdin is not None and process.stdin is not None:
        process.stdin.write(stdin)
        process.stdin.close()
        process.stdin = None  # written in full: communicate() has nothing more to send
    return process


def test_the_command_line() -> None:
    listing = _start("--list-policies")
    missing = _start("--chart", "no-such-chart")
    foreign = _start("--repo", f"{FOREIGN}/raw-manifests", "-q", "--sarif", "")
    broken = _start("--repo", f"{FOREIGN}/broken-chart", "-q", "--sarif", "")
    rollout = (ROOT / FOREIGN / "raw-manifests/deploy/rollout.yaml").read_text()
    piped = _start(
        "--repo", f"{FOREIGN}/no-workflows", "--chart", "", "--manifests", "-", "-q",
        "--sarif", "", stdin=rollout,
    )  # fmt: skip

    out, _ = listing.communicate(timeout=120)
    lines = out.strip().splitlines()
    rules = load_catalogue().rules
    assert listing.returncode == 0
    assert lines[-1] == f"{len(rules)} rules"
    assert all(line.split()[0] == rule.id for line, rule in zip(lines, rules, strict=False))
    assert all(line.split()[1] == rule.profile for line, rule in zip(lines, rules, strict=False))
    assert "pod-security/run-as-non-root" in out and "error" in out and "sre-platform" in out

    _, err = missing.communicate(timeout=120)
    assert missing.returncode == 66, err
    assert "no-such-chart" in err and "Traceback" not in err

    out, err = foreign.communicate(timeout=120)
    assert foreign.returncode == 1, out + err
    assert "Traceback" not in out + err
    assert "selftest" not in out, "this repository's self-tests ran against another repository"
    failed = sorted(line.split()[1] for line in out.splitlines() if line.startswith("FAILED"))
    assert failed == ["suites/static/test_policies.py::test_policy[analysis/no-data-fails]"], out
    assert "ClusterAnalysisTemplate/latency" in out and "deploy/cluster-analysis.yaml:" in out

    out, err = broken.communicate(timeout=120)
    assert broken.returncode == 65, out + err
    assert "Traceback" not in out + err
    assert "helm: does not render for default" in out + err

    out, err = piped.communicate(timeout=120)
    assert piped.returncode == 1, out + err
    assert "Traceback" not in out + err
    assert "Rollout/inventory/inventory" in out and "<stdin>" in out
