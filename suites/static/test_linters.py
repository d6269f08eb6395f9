"""The best external linters, clean: actionlint and zizmor on the workflows, shellcheck on
the scripts, hadolint on the Dockerfile (each from a pinned build)."""

from __future__ import annotations

from pathlib import Path

import pytest

from fixtures.static.session import StaticSession


def test_actionlint(static: StaticSession) -> None:
    result = static.linter("actionlint")
    if not result.ok:
        pytest.fail(result.report(), pytrace=False)


def test_zizmor_offline(static: StaticSession) -> None:
    result = static.linter("zizmor")
    if not result.ok:
        pytest.fail(result.report(), pytrace=False)


def test_shellcheck(static: StaticSession) -> None:
    result = static.linter("shellcheck")
    if not result.ok:
        pytest.fail(result.report(), pytrace=False)


def test_hadolint(static: StaticSession, dockerfile: Path) -> None:
    result = static.linter(f"hadolint:{dockerfile}")
    if not result.ok:
        pytest.fail(result.report(), pytrace=False)
