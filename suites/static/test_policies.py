"""Every rule of the run's profiles against the judged repository's rendered chart, plain
manifests, Argo CD files, workflows, scripts and Dockerfiles. One test per rule: it fails
with the rule's findings, each with the file and line to change."""

from __future__ import annotations

import pytest

from fixtures.static.session import StaticSession
from policies.engine import waiver_problems
from policies.model import Severity


@pytest.mark.policy
def test_policy(static: StaticSession, rule_id: str) -> None:
    findings = static.results.for_rule(rule_id)
    errors = [f for f in findings if f.severity is Severity.ERROR and f.waiver is None]
    if errors:
        lines = []
        for finding in errors:
            loc = static.locator.locate(finding)
            where = f"  ({loc.file}:{loc.line})" if loc else ""
            lines.append(f"{finding.text()}{where}")
        pytest.fail("\n".join(lines), pytrace=False)


def test_waivers_are_live_and_used(static: StaticSession) -> None:
    """Expired, overlong and unused waivers fail; unknown rule ids already failed at start."""
    problems = waiver_problems(static.waivers, static.results.findings, static.today)
    assert not problems, "\n".join(problems)
