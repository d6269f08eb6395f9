"""The best external linters, clean: actionlint and zizmor on the workflows, shellcheck on
the scripts, hadolint on the Dockerfile (each from a pinned build)."""

from __future__ import annotations

from pathlib import Path

from fixtures.static_session import StaticSession


def test_actionlint(static: StaticSession) -> None:
    result = static.linter("actionlint")
    assert result.ok, result.report()


def test_zizmor_offline(static: StaticSession) -> None:
    result = static.linter("zizmor")
    assert result.ok, result.report()


def test_shellcheck(static: StaticSession) -> None:
    result = static.linter("shellcheck")
    assert result.ok, result.report()


def test_hadolint(static: StaticSession, dockerfile: Path) -> None:
    result = static.linter(f"hadolint:{dockerfile}")
    assert result.ok, result.report()
