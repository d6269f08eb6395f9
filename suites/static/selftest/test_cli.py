"""The tier's command line as a user meets it (real pytest subprocesses, started together):
the rule listing, a bad option, another repository (`--repo`: only its findings, none of
this repository's self-tests) with manifests piped in, and a chart that does not render."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from policies.catalogue import load_catalogue

ROOT = Path(__file__).resolve().parents[3]
FOREIGN = "suites/static/foreign"
DEPLOYMENT_FROM_STDIN = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: reports, namespace: reports}
spec:
  replicas: 2
  selector: {matchLabels: {app: reports}}
  template:
    metadata: {labels: {app: reports}}
    spec:
      containers:
        - name: reports
          image: registry.example.com/reports:1.0.0
          resources: {requests: {cpu: 50m, memory: 64Mi}}
"""


def _start(*args: str, stdin: str | None = None) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "pytest", "suites/static", "-p", "no:cacheprovider", *args]
    # As `make static` runs it: no third-party pytest plugin (the tier needs none).
    env = {**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        env=env,
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


_STARTED: dict[str, subprocess.Popen[str]] = {}


def start_processes() -> dict[str, subprocess.Popen[str]]:
    """Start every command line once; the selftest conftest calls this at collection, so
    they run on the second core while the other tests run on the first."""
    if not _STARTED:
        _STARTED["listing"] = _start("--list-policies")
        _STARTED["missing"] = _start("--chart", "no-such-chart")
        _STARTED["broken"] = _start("--repo", f"{FOREIGN}/broken-chart", "-q", "--sarif", "")
        # Another repository: its deploy/ folder plus a kustomize build piped in (a
        # Deployment of another namespace, as `kustomize build overlays/... |` prints it).
        _STARTED["foreign"] = _start(
            "--repo", f"{FOREIGN}/raw-manifests", "--manifests", "deploy/*.yaml",
            "--manifests", "-", "-q", "--sarif", "", stdin=DEPLOYMENT_FROM_STDIN,
        )  # fmt: skip
    return _STARTED


def test_the_command_line() -> None:
    started = start_processes()
    listing, missing, broken, foreign = (
        started["listing"],
        started["missing"],
        started["broken"],
        started["foreign"],
    )

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
    assert all(name.startswith("suites/static/test_policies.py::") for name in failed), out
    policy = "suites/static/test_policies.py::test_policy"
    assert {f"{policy}[analysis/no-data-fails]", f"{policy}[resources/limits]"} <= set(failed)
    assert "ClusterAnalysisTemplate/latency" in out and "deploy/cluster-analysis.yaml:" in out
    assert "Deployment/reports/reports" in out and "(<stdin>:" in out

    out, err = broken.communicate(timeout=120)
    assert broken.returncode == 65, out + err
    assert "Traceback" not in out + err
    assert "helm: does not render for default" in out + err
