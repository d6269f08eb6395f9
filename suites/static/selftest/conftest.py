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


@pytest.fixture(scope="session", autouse=True)
def _this_repository_only(static: StaticSession) -> None:
    if static.config.foreign:
        pytest.exit(
            "static tier: suites/static/selftest/ tests this repository; run it without --repo",
            returncode=64,
        )
