"""The chart: `helm lint --strict` for every environment, and a rendering with objects for
every environment and variant (a chart that does not render stops the tier before this:
exit 65 with helm's reason)."""

from __future__ import annotations

import pytest

from fixtures.static.session import StaticSession


@pytest.mark.needs("chart")
def test_helm_lint_strict(static: StaticSession, env_name: str) -> None:
    _, error = static.lint(env_name)
    if error is not None:
        pytest.fail(str(error), pytrace=False)


@pytest.mark.needs("chart")
def test_chart_renders(static: StaticSession, render_target: str) -> None:
    bundle = static.repo.rendered(render_target)
    assert bundle is not None and (bundle.objects or bundle.skipped), (
        f"{render_target} renders no object"
    )
