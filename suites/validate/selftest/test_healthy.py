"""Given a healthy scratch environment, the tier passes every check it runs."""

from __future__ import annotations

import pytest

from conftest import ScratchEnvironment

pytestmark = pytest.mark.e2e


def test_healthy_environment_passes(scratch: ScratchEnvironment) -> None:
    result = scratch.run_tier()
    print(result.output)
    assert result.returncode == 0, result
