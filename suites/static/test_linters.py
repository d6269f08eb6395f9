"""The best external linters, clean: actionlint and zizmor on the workflows, shellcheck on
the scripts, hadolint on the Dockerfiles (each from a pinned build). Their findings also go
to reports/static.sarif and, on GitHub, to annotations."""

from __future__ import annotations

from pathlib import Path

import pytest

from fixtures.static.session import StaticSession


@pytest.mark.needs("workflows")
def test_actionlint(static: StaticSession) -> None:
    result = static.linter("actionlint")
    if not result.ok:
        pytest.fail(result.report(), pytrace=False)


@pytest.mark.needs("workflows")
def test_zizmor_offline(static: StaticSession) -> None:
    result = static.linter("zizmor")
    if not result.ok:
        pytest.fail(result.report(), pytrace=False)


@pytest.mark.needs("scripts")
def test_shellcheck(static: StaticSession) -> None:
    result = static.linter("shellcheck")
    if not result.ok:
        pytest.fail(result.report(), pytrace=False)


@pytest.mark.needs("dockerfiles")
def test_hadolint(static: StaticSession, dockerfile: Path) -> None:
    result = static.linter(f"hadolint:{dockerfile}")
    if not result.ok:
        pytest.fail(result.report(), pytrace=False)
