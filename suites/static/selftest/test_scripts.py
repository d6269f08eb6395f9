"""The operational scripts as a new user meets them: --help, and wrong arguments answered
with the documented exit code and a message that names the problem (plain subprocess, no
cluster: argument checks come before any cluster or git access)."""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from fixtures.static.session import StaticSession

EX_USAGE, EX_DATAERR = 64, 65


@dataclass(frozen=True)
class Misuse:
    script: str
    args: tuple[str, ...]
    exit_code: int
    says: str

    @property
    def id(self) -> str:
        return f"{self.script} {' '.join(self.args) or '(no args)'}"


PROMOTE, ROLLBACK = "promote-canary.sh", "rollback.sh"
PROD = ("production", "sre-platform")  # promote-canary.sh's environment and release

MISUSES = [
    Misuse(PROMOTE, (), EX_USAGE, "Usage:"),
    Misuse(PROMOTE, ("frobnicate", *PROD), EX_USAGE, "unknown action 'frobnicate'"),
    Misuse(PROMOTE, ("status", "prod", "sre-platform"), EX_DATAERR, "unknown environment 'prod'"),
    Misuse(PROMOTE, ("promote", *PROD, "--step", "--full"), EX_USAGE, "--step and --full exclude"),
    Misuse(
        PROMOTE, ("promote", *PROD, "--force"), EX_USAGE, "--force only applies to promote --step"
    ),
    Misuse(ROLLBACK, (), EX_USAGE, "Usage:"),
    Misuse(ROLLBACK, ("production",), EX_USAGE, "reason"),
    Misuse(ROLLBACK, ("prod", "error rate spike"), EX_DATAERR, "unknown environment 'prod'"),
    Misuse(
        ROLLBACK,
        ("production", "error rate spike", "--to", "bad tag!"),
        EX_USAGE,
        "not a valid image tag",
    ),
    Misuse("validate-deployment.sh", (), EX_USAGE, "Usage:"),
    Misuse("validate-deployment.sh", ("prod",), EX_DATAERR, "unknown environment 'prod'"),
    Misuse("setup-argocd.sh", ("--bogus",), EX_USAGE, "unknown option '--bogus'"),
]


def _run(
    path: Path, args: tuple[str, ...], root: Path, home: Path
) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(home), "LANG": "C.UTF-8"}
    for key in ("SRE_PLATFORM_CACHE", "XDG_CACHE_HOME"):
        if key in os.environ:
            env[key] = os.environ[key]
    return subprocess.run(
        [str(path), *args],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def _key(path: Path, args: tuple[str, ...]) -> str:
    return f"script:{path}:{' '.join(args)}"


def start_in_background(static: StaticSession) -> None:
    """Start every invocation when collection ends (the tier's conftest calls this): they are
    independent subprocesses, so they run on the other core while the tests before these
    run, and these find their results ready."""
    home = Path(tempfile.mkdtemp(prefix="sre-static-home-"))
    atexit.register(shutil.rmtree, home, True)
    root = static.config.root
    calls = [(p, ("--help",)) for p in static.config.scripts]
    calls += [(p, ("--no-such-option",)) for p in static.config.scripts]
    for misuse in MISUSES:
        calls += [(p, misuse.args) for p in static.config.scripts if p.name == misuse.script]
    for path, args in calls:
        static.submit(_key(path, args), _run, path, args, root, home)


def _result(static: StaticSession, path: Path, args: tuple[str, ...]) -> Any:
    """The invocation's result (started now when collection did not start it)."""
    future = static.submitted(_key(path, args))
    if future is None:
        start_in_background(static)
        future = static.submitted(_key(path, args))
    assert future is not None, f"{path.name} {args} is not among the invocations started"
    return future.result()


def test_help(static: StaticSession, script: Path) -> None:
    result = _result(static, script, ("--help",))
    assert result.returncode == 0, f"--help exited {result.returncode}:\n{result.stderr}"
    assert "Usage:" in result.stdout, f"--help printed no Usage: line:\n{result.stdout}"


def test_unknown_option(static: StaticSession, script: Path) -> None:
    result = _result(static, script, ("--no-such-option",))
    assert result.returncode == EX_USAGE, (
        f"exit {result.returncode}, expected {EX_USAGE}:\n{result.stderr}"
    )
    assert "--no-such-option" in result.stderr, (
        f"the message does not name the option:\n{result.stderr}"
    )


@pytest.mark.parametrize("misuse", MISUSES, ids=[m.id for m in MISUSES])
def test_bad_arguments(static: StaticSession, misuse: Misuse) -> None:
    path = next((p for p in static.config.scripts if p.name == misuse.script), None)
    if path is None:
        pytest.skip(f"{misuse.script} is not among the configured scripts")
    result = _result(static, path, misuse.args)
    output = result.stdout + result.stderr
    assert result.returncode == misuse.exit_code, (
        f"exit {result.returncode}, expected {misuse.exit_code}:\n{output}"
    )
    assert misuse.says in output, f"expected the message to say {misuse.says!r}:\n{output}"
