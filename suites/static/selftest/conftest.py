"""This repository's own self-tests: the rule catalogue and its cases, the engine's parts,
mutations of this repository's config, its scripts' command lines, its chart's values schema,
and the foreign corpus (other repositories' shapes, with their expected findings).

They judge this repository and the suite itself, never another repository: the tier's
plugin leaves this folder out when `--repo` names another one, and running it directly with
such a `--repo` stops with a usage error.
"""

from __future__ import annotations

import pytest

from fixtures.static.session import StaticSession


@pytest.hookimpl(trylast=True)  # after -k and the tier's own selection
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The command-line test's subprocesses start now and its test runs last, so they run
    beside everything else (two cores) instead of being waited for in the middle."""
    cli = [item for item in items if item.path.name == "test_cli.py"]
    if not cli:
        return
    cli[0].module.start_processes()  # type: ignore[attr-defined]
    items[:] = [item for item in items if item not in cli] + cli


@pytest.fixture(scope="session", autouse=True)
def _this_repository_only(static: StaticSession) -> None:
    if static.config.foreign:
        pytest.exit(
            "static tier: suites/static/selftest/ tests this repository; run it without --repo",
            returncode=64,
        )
