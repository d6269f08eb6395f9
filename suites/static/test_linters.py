"""The best external linters, clean: actionlint and zizmor on the workflows, shellcheck on
the scripts, hadolint on the Dockerfiles (each from a pinned build). Their findings also go
to reports/static.sarif and, on GitHub, to annotations."""

from __future__ import annotations

from pathlib import Path

import pytest

from fixtures.static.session import StaticSession


def _expect_clean(static: StaticSession, linter: str) -> None:
    """The linter found nothing; else the test fails with its report (no traceback)."""
    result = static.linter(linter)
    if not result.ok:
        pytest.fail(result.report(), pytrace=False)


@pytest.mark.needs("workflows")
def test_actionlint(static: StaticSession) -> None:
    _expect_clean(static, "actionlint")


@pytest.mark.needs("workflows")
def test_zizmor_offline(static: StaticSession) -> None:
    _expect_clean(static, "zizmor")


@pytest.mark.needs("scripts")
def test_shellcheck(static: StaticSession) -> None:
    _expect_clean(static, "shellcheck")


@pytest.mark.needs("dockerfiles")
def test_hadolint(static: StaticSession, dockerfile: Path) -> None:
    _expect_clean(static, f"hadolint:{dockerfile}")
