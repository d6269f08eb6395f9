"""The skip budget (scripts/lib/skip_budget.py, `scripts/run-pytest.sh --skip-budget`): a
tier whose JUnit report shows a skip that its platform's allow-list does not name fails.
No cluster: the tier's own guard, checked in the tier."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from fixtures.core.tools import REPO_ROOT

pytestmark = pytest.mark.e2e

BUDGET = REPO_ROOT / "scripts" / "lib" / "skip_budget.py"
RUN_PYTEST = REPO_ROOT / "scripts" / "run-pytest.sh"
ALLOW_LIST = REPO_ROOT / "suites" / "e2e" / "skip-allowlist.yaml"
SKIPPING_TEST = """
import pytest

def test_runs():
    pass

def test_cannot_run_here():
    pytest.skip("needs something this platform lacks")
"""


def budget(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(BUDGET), *map(str, args)], capture_output=True, text=True, check=False
    )


def junit(tmp_path: Path) -> Path:
    report = tmp_path / "tier.xml"
    report.write_text(
        '<testsuites><testsuite name="pytest" tests="2" skipped="1">'
        '<testcase classname="suites.e2e.test_x" name="test_runs"/>'
        '<testcase classname="suites.e2e.test_x" name="test_skips[a]">'
        '<skipped type="pytest.skip" message="not here"/></testcase>'
        "</testsuite></testsuites>"
    )
    return report


def test_the_repositorys_allow_list_names_each_platform_with_reasons() -> None:
    data = yaml.safe_load(ALLOW_LIST.read_text())
    assert set(data) == {"lab", "real-node", "kind", "existing"}
    for platform, entries in data.items():
        for entry in entries or []:
            assert set(entry) == {"test", "reason"} and entry["reason"].strip(), (platform, entry)


def test_an_allowed_skip_passes_and_another_fails(tmp_path: Path) -> None:
    report = junit(tmp_path)
    allow = tmp_path / "allow.yaml"
    allow.write_text(yaml.safe_dump({"p": [{"test": "suites.e2e.test_x::test_skips*",
                                            "reason": "r"}], "q": []}))  # fmt: skip
    allowed = budget("--platform", "p", "--allow", allow, report)
    assert allowed.returncode == 0, allowed.stderr
    assert "allowed      suites.e2e.test_x::test_skips[a]: r" in allowed.stderr
    refused = budget("--platform", "q", "--allow", allow, report)
    assert refused.returncode == 1, refused.stderr
    assert "NOT ALLOWED  suites.e2e.test_x::test_skips[a]: not here" in refused.stderr


@pytest.mark.parametrize(
    ("allow_text", "platform", "code", "says"),
    [
        ("p: [{test: 'x::*'}]", "p", 65, "expected exactly the keys test and reason"),
        ("p: [{test: 'x::*', reason: ' '}]", "p", 65, "needs a reason"),
        ("p: []", "kind", 64, "no platform 'kind'; known: p"),
        ("[unclosed", "p", 65, "not YAML"),
    ],
)
def test_a_bad_allow_list_is_one_line_and_a_code(
    tmp_path: Path, allow_text: str, platform: str, code: int, says: str
) -> None:
    allow = tmp_path / "allow.yaml"
    allow.write_text(allow_text)
    result = budget("--platform", platform, "--allow", allow, junit(tmp_path))
    assert result.returncode == code, result.stderr
    assert says in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_run_pytest_fails_a_green_tier_with_a_skip_off_the_list(tmp_path: Path) -> None:
    (tmp_path / "test_tier.py").write_text(SKIPPING_TEST)
    allow = tmp_path / "allow.yaml"
    listed = "test_tier::test_cannot_run_here"
    allow.write_text(yaml.safe_dump({"here": [{"test": listed, "reason": "r"}], "there": []}))

    def tier(platform: str) -> subprocess.CompletedProcess[str]:
        argv = [str(RUN_PYTEST), "--skip-budget", platform, "--allow-list", str(allow),
                "skip-budget-selftest", str(tmp_path), "-q", "-p", "no:cacheprovider",
                f"--rootdir={tmp_path}"]  # fmt: skip
        return subprocess.run(argv, capture_output=True, text=True, check=False, cwd=tmp_path)

    assert tier("here").returncode == 0
    refused = tier("there")
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert f"NOT ALLOWED  {listed}" in refused.stderr


def test_run_pytest_puts_a_tiers_scratch_files_in_memory_when_asked(tmp_path: Path) -> None:
    """`--scratch-in-memory` (make static): TMPDIR, hence tmp_path, on /dev/shm when it is a
    tmpfs; a TMPDIR the caller set is kept."""
    (tmp_path / "test_where.py").write_text(
        "import tempfile\n\ndef test_where(tmp_path):\n"
        "    print('TMP', tempfile.gettempdir(), tmp_path)\n"
    )

    def tier(*option: str, **env: str) -> str:
        argv = [str(RUN_PYTEST), *option, "scratch-selftest", str(tmp_path), "-q", "-s",
                "-p", "no:cacheprovider", f"--rootdir={tmp_path}"]  # fmt: skip
        environment = {k: v for k, v in os.environ.items() if k != "TMPDIR"} | env
        result = subprocess.run(
            argv, capture_output=True, text=True, check=False, cwd=tmp_path, env=environment
        )
        assert result.returncode == 0, result.stdout + result.stderr
        return next(line for line in result.stdout.splitlines() if "TMP " in line)

    shm = Path("/dev/shm")
    in_memory = tier("--scratch-in-memory")
    if shm.is_dir() and os.access(shm, os.W_OK):
        assert "TMP /dev/shm /dev/shm/" in in_memory, in_memory
    assert "/dev/shm" not in tier(), "without the option the scratch files stay where they were"
    kept = tier("--scratch-in-memory", TMPDIR=str(tmp_path))
    assert f"TMP {tmp_path} {tmp_path}/" in kept, kept
