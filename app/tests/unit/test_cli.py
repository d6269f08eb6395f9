"""`python -m sre_platform`: arguments, configuration errors and exit codes."""

from __future__ import annotations

import json

import pytest

from sre_platform.cli import main
from tests.localservers import free_port


def test_help_exits_zero(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["--help"])
    assert caught.value.code == 0
    assert "migrate" in capsys.readouterr().out


def test_unknown_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["deploy"])
    assert caught.value.code == 64
    assert "invalid choice: 'deploy'" in capsys.readouterr().err


def test_bad_configuration_exits_65_with_one_clear_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("FAULT_LATENCY_MS", "slow")
    assert main(["serve"]) == 65
    err = capsys.readouterr().err
    assert err == (
        "sre-platform: invalid configuration: FAULT_LATENCY_MS='slow' is invalid: "
        "expected an integer from 0 to 600000\n"
    )


def test_migrate_exits_69_when_postgres_is_unreachable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", f"postgresql://postgres@127.0.0.1:{free_port()}/x")
    assert main(["migrate"]) == 69
    assert "cannot migrate, PostgreSQL is unreachable" in capsys.readouterr().out


def test_migrate_wait_retries_before_giving_up(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", f"postgresql://postgres@127.0.0.1:{free_port()}/x")
    assert main(["migrate", "--wait", "1.5"]) == 69
    out = capsys.readouterr().out
    assert "PostgreSQL unreachable, retrying" in out


def test_serve_with_migrate_on_start_stops_when_postgres_never_comes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("sre_platform.cli.MIGRATE_ON_START_WAIT_SECONDS", 0.0)
    monkeypatch.setenv("DATABASE_URL", f"postgresql://postgres@127.0.0.1:{free_port()}/x")
    monkeypatch.setenv("MIGRATE_ON_START", "true")
    assert main(["serve"]) == 69


def test_a_bug_is_logged_and_exits_70(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken(database_url: str) -> list[int]:
        raise KeyError("a bug")

    monkeypatch.setattr("sre_platform.cli.migrate", broken)
    assert main(["migrate"]) == 70
    entry = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert entry["message"] == "internal error (a bug: please report it)"
    assert "KeyError: 'a bug'" in entry["exception"]
