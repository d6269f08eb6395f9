"""Every rule of the catalogue against this repository's rendered chart, ArgoCD manifests,
workflows, scripts and Dockerfile. One test per rule: it fails with the rule's findings."""

from __future__ import annotations

import pytest

from fixtures.static.session import StaticSession
from policies.catalogue import load_catalogue
from policies.model import Severity

RULES = load_catalogue().rules


@pytest.mark.parametrize("rule_id", [rule.id for rule in RULES])
def test_policy(static: StaticSession, rule_id: str) -> None:
    rule = static.catalogue.get(rule_id)
    if rule.scope in ("workloads", "manifests", "repo") and (failures := static.render_failures()):
        pytest.fail(
            "cannot judge the chart: it does not render\n" + "\n".join(failures), pytrace=False
        )
    findings = static.results.for_rule(rule_id)
    errors = [f for f in findings if f.severity is Severity.ERROR and f.waiver is None]
    if errors:
        lines = []
        for finding in errors:
            loc = static.locator.locate(finding)
            where = f"  ({loc.file}:{loc.line})" if loc else ""
            lines.append(f"{finding.text()}{where}")
        pytest.fail("\n".join(lines), pytrace=False)
