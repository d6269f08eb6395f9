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
from fixtures.core.supervisor import http_probe
from fixtures.core.tcpgate import TcpGate
from fixtures.core.tools import REPO_ROOT
from fixtures.e2e import durations
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


def test_durations_leave_out_lab_waits_and_skips_and_the_last_run_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    junit = tmp_path / "e2e.xml"
    junit.write_text(
        """<testsuites><testsuite>
        <testcase classname="suites.e2e.test_a" name="test_queued@admission" time="50.0">
          <properties><property name="lab_wait_seconds" value="45.5"/></properties>
        </testcase>
        <testcase classname="suites.e2e.test_a" name="test_long" time="80.0"/>
        <testcase classname="suites.e2e.test_a" name="test_skipped" time="0.1"><skipped/></testcase>
        </testsuite></testsuites>"""
    )
    measured = durations.from_junit(junit, ("admission",))
    assert measured == {
        "suites/e2e/test_a.py::test_queued": pytest.approx(4.5),
        "suites/e2e/test_a.py::test_long": 80.0,
    }
    committed = tmp_path / "durations.json"
    assert durations.save(junit, committed, ("admission",)) == 2
    assert json.loads(committed.read_text()) == {
        "suites/e2e/test_a.py::test_long": 80,
        "suites/e2e/test_a.py::test_queued": 4,
    }
    # A fresh clone has no report: the committed file gives the order; a run's report wins.
    committed.write_text(json.dumps({"suites/e2e/test_a.py::test_long": 10, "x.py::t": 7}))
    monkeypatch.setattr(durations, "COMMITTED", committed)
    monkeypatch.setattr(durations, "LAST_JUNIT", tmp_path / "missing.xml")
    assert durations.known() == {"suites/e2e/test_a.py::test_long": 10.0, "x.py::t": 7.0}
    monkeypatch.setattr(durations, "LAST_JUNIT", junit)
    assert durations.known()["suites/e2e/test_a.py::test_long"] == 80.0


def test_the_committed_durations_name_tests_that_exist() -> None:
    """suites/e2e/durations.json is refreshed by bench/bench-e2e --save-durations; a file
    that names no test of the tier any more would order nothing."""
    known = durations.committed()
    assert known, f"{durations.COMMITTED} is missing or empty"
    modules = {nodeid.split("::")[0] for nodeid in known}
    missing = sorted(m for m in modules if not (REPO_ROOT / m).is_file())
    assert not missing, f"durations.json names modules that are gone: {missing}"


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


def test_a_shut_gate_refuses_and_drops_open_connections_and_reopens_on_its_port() -> None:
    """The Prometheus fault's gate (fixtures/core/tcpgate.py): what the controller sees of a
    Prometheus that is down, for one scenario only."""
    import http.server
    import socket

    def ask(sock: socket.socket) -> bytes:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        answer = b""
        while not answer.endswith(b"ok") and (chunk := sock.recv(1024)):
            answer += chunk
        return answer

    class Answer(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as the controller's Go client

        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Answer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with TcpGate("127.0.0.1", server.server_address[1]) as gate:
            kept = socket.create_connection(("127.0.0.1", gate.port), timeout=5)
            assert ask(kept).endswith(b"ok")
            port = gate.port
            gate.shut()
            kept.settimeout(5)
            assert kept.recv(1024) == b"", "an open connection outlived the shut gate"
            with pytest.raises(ConnectionRefusedError):
                socket.create_connection(("127.0.0.1", port), timeout=5)
            gate.open()
            assert gate.port == port
            assert http_probe(gate.url) is None
    finally:
        server.shutdown()
