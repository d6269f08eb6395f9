"""The tier's own parallel machinery (fixtures/e2e/parallel.py, docs/e2e.md "In parallel"),
proven without a cluster: a serial test runs alone and before later ones, a group's tests
run on one worker, the last user out (not the starter) stops a shared component, the
longest tests are handed out first.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from typing import Any

import pytest

from fixtures.core.processes import Users, shared_lock, starttime
from fixtures.core.tools import REPO_ROOT
from fixtures.e2e.parallel import longest_first, plain_nodeid

pytestmark = pytest.mark.e2e


def test_an_exclusive_holder_waits_for_shared_ones_and_goes_before_later_ones(
    tmp_path: Path,
) -> None:
    lock = tmp_path / "share.lock"
    order: list[str] = []
    first_holds, release_first, writer_waits = (threading.Event() for _ in range(3))

    def hold(name: str, exclusive: bool, until: threading.Event | None = None) -> None:
        with shared_lock(lock, exclusive):
            order.append(name)
            if until is not None:
                first_holds.set()
                until.wait(10)

    first = threading.Thread(target=hold, args=("shared-1", False, release_first))
    first.start()
    assert first_holds.wait(10)

    def writer() -> None:
        writer_waits.set()
        hold("exclusive", True)

    exclusive = threading.Thread(target=writer)
    exclusive.start()
    assert writer_waits.wait(10)
    later = threading.Thread(target=hold, args=("shared-2", False))
    # the exclusive holder is queued: neither it nor a later shared holder gets the lock
    exclusive.join(0.5)
    later.start()
    later.join(0.5)
    assert order == ["shared-1"], order
    release_first.set()
    for thread in (first, exclusive, later):
        thread.join(10)
    assert order == ["shared-1", "exclusive", "shared-2"], order


def _other_user(users: Users, proc: subprocess.Popen[bytes]) -> Path:
    """A token of another live process (Users names them by pid and start time)."""
    users.directory.mkdir(parents=True, exist_ok=True)
    token = users.directory / f"{proc.pid}-{starttime(proc.pid)}"
    token.touch()
    return token


def test_the_last_user_out_stops_what_a_session_started(tmp_path: Path) -> None:
    users = Users(tmp_path / "users")
    with subprocess.Popen(["sleep", "30"]) as other:  # another worker, still running
        _other_user(users, other)
        # this session started the component and leaves first: it hands the stop on
        assert users.release_last(users.register(), "start-1", "start-1") is False
        other.kill()
    # the other worker has finished; the next user to leave is the last one: it stops it
    assert users.release_last(users.register(), None, "start-1") is True
    # and after that stop, a last user of a component no session started stops nothing
    assert users.release_last(users.register(), None, "start-1") is False


def test_a_component_started_again_since_is_left_alone(tmp_path: Path) -> None:
    users = Users(tmp_path / "users")
    with subprocess.Popen(["sleep", "30"]) as other:
        _other_user(users, other)
        assert users.release_last(users.register(), "start-1", "start-1") is False
        other.kill()
    # `make lab-down` and a new lab meanwhile: the hand-over is stale
    assert users.release_last(users.register(), None, "start-2") is False


class _Item:
    def __init__(self, nodeid: str, serial: bool = False, cluster: bool = True) -> None:
        self.nodeid, self.serial = nodeid, serial
        self.fixturenames = ["cluster"] if cluster else []

    def get_closest_marker(self, name: str) -> Any:
        return object() if name == "serial" and self.serial else None


def test_serial_tests_first_then_the_longest_units_groups_kept_in_order() -> None:
    items = [
        _Item("t.py::short"),
        _Item("t.py::group-a"),
        _Item("t.py::long"),
        _Item("t.py::group-b"),
        _Item("t.py::fault", serial=True),
        _Item("t.py::new"),
        _Item("t.py::pure", cluster=False),  # runs beside the serial test: right after it
    ]
    groups = {"t.py::group-a": "@g", "t.py::group-b": "@g"}
    durations = {
        "t.py::short": 5.0,
        "t.py::group-a": 20.0,
        "t.py::long": 50.0,
        "t.py::group-b": 40.0,
        "t.py::fault": 1.0,
    }  # t.py::new is not in the last run: counted as a long one (60 s)
    ordered = longest_first(items, groups, durations)  # type: ignore[arg-type]
    assert [i.nodeid.split("::")[1] for i in ordered] == [
        "fault",
        "pure",
        "group-a",  # the group: 60 s, before "new" (60 s) by collection order
        "group-b",
        "new",
        "long",
        "short",
    ]
    assert plain_nodeid("t.py::x[a@b]@admission") == "t.py::x[a@b]"
    assert plain_nodeid("t.py::x[a@b]") == "t.py::x[a@b]"


SUITE = {
    "conftest.py": """
        from fixtures.e2e import parallel, progress

        def pytest_addoption(parser, pluginmanager):
            parallel.register(pluginmanager)
            progress.register(pluginmanager)
        """,
    "test_mix.py": """
        import json, os, time
        import pytest

        def record(name, out):
            start = time.time()
            time.sleep(0.4)
            with open(out, "a") as f:
                f.write(json.dumps([name, os.environ["PYTEST_XDIST_WORKER"], start,
                                    time.time()]) + "\\n")

        @pytest.mark.xdist_group("admission")
        @pytest.mark.parametrize("n", range(4))
        def test_grouped(n, out, cluster):
            record(f"grouped{n}", out)

        @pytest.mark.parametrize("n", range(4))
        def test_free(n, out, cluster):
            record(f"free{n}", out)

        @pytest.mark.serial
        def test_alone(out, cluster):
            record("alone", out)

        @pytest.fixture
        def out():
            return os.environ["RECORD"]

        @pytest.fixture
        def cluster():  # what makes a test hold the lab (the real one is the lab)
            return None
        """,
}


def test_groups_share_a_worker_and_a_serial_test_runs_alone(tmp_path: Path) -> None:
    for name, text in SUITE.items():
        (tmp_path / name).write_text(textwrap.dedent(text))
    (tmp_path / "pytest.ini").write_text(f"[pytest]\npythonpath = {REPO_ROOT}\n")
    record = tmp_path / "record.jsonl"
    # A private cache: the inner run's share lock is not the lab's (this test holds that).
    env = dict(os.environ, RECORD=str(record), SRE_PLATFORM_CACHE=str(tmp_path / "cache"))
    for inherited in ("PYTEST_XDIST_WORKER", "PYTEST_XDIST_TESTRUNUID", "PYTEST_CURRENT_TEST"):
        env.pop(inherited, None)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-n", "2", "-p", "no:cacheprovider", "-q"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"9 passed", result.stdout), result.stdout
    runs = [json.loads(line) for line in record.read_text().splitlines()]
    workers = {worker for name, worker, *_ in runs if name.startswith("grouped")}
    assert len(workers) == 1, runs  # a group on one worker
    assert len({worker for _, worker, *_ in runs}) > 1, runs  # and the rest spread
    (alone,) = [r for r in runs if r[0] == "alone"]
    overlapping = [r[0] for r in runs if r[0] != "alone" and r[2] < alone[3] and alone[2] < r[3]]
    assert not overlapping, runs  # nothing ran while the serial test did
