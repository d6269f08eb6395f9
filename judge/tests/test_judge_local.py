"""The lab's local judge process (sre_judge.local), in a private lab directory."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from judge_servers import JUDGE_DIR

from fixtures.core import processes
from sre_judge import local
from tests.localservers import free_port

pytestmark = pytest.mark.slow


@pytest.fixture
def lab_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("SRE_PLATFORM_LAB_DIR", str(tmp_path))
    yield tmp_path
    local.stop()


def test_start_is_idempotent_and_stop_stops(lab_dir: Path) -> None:
    port = free_port()
    first = local.start(port, prometheus_url=f"http://127.0.0.1:{free_port()}")
    assert requests.get(f"{first.url}/healthz", timeout=5).status_code == 200
    assert local.start(port).pid == first.pid
    assert local.status() == first
    assert (lab_dir / "logs" / "sre-judge.log").is_file()
    assert local.stop() is True
    assert local.status() is None
    assert processes.starttime(first.pid) is None
    assert local.stop() is False


def test_another_address_replaces_the_running_judge(lab_dir: Path) -> None:
    """kind's scenarios need the judge on the cluster network's gateway, not on loopback:
    asked for another address, start replaces the running judge instead of keeping it."""
    port = free_port()
    first = local.start(port)
    second = local.start(port, host="127.0.0.2")
    assert second.pid != first.pid and second.url == f"http://127.0.0.2:{port}"
    assert local.status() == second
    assert processes.starttime(first.pid) is None
    assert requests.get(f"{second.url}/healthz", timeout=5).status_code == 200


def test_the_record_is_the_labs_own_format(lab_dir: Path) -> None:
    """lab-down and the lab's tooling read run/<name>.json with fixtures.core.processes."""

    class Record(processes.ProcessRecord):
        @classmethod
        def directory(cls) -> Path:
            return lab_dir / "run"

    running = local.start(free_port())
    record = Record.load("sre-judge")
    assert record is not None and record.pid == running.pid and record.alive()


def test_command_line(lab_dir: Path) -> None:
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "sre_judge.local", *args],
            capture_output=True, text=True, timeout=60, check=False,
            env={**os.environ, "PYTHONPATH": str(JUDGE_DIR), "SRE_PLATFORM_LAB_DIR": str(lab_dir)},
        )  # fmt: skip

    assert run("status").returncode == 1
    started = run("start", "--port", str(free_port()))
    assert started.returncode == 0 and "running" in started.stdout
    assert run("status").returncode == 0
    assert run("stop").returncode == 0
    assert run("bogus").returncode == 64
