"""Each rule against its own cases: pass-* must produce no finding of the rule, fail-* at
least one (with the texts and severity the case header expects)."""

from __future__ import annotations

import pytest

from policies.casefiles import Case, find_cases, run_case
from policies.catalogue import load_catalogue

CASES = [case for rule in load_catalogue().rules for case in find_cases(rule)]


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_rule_case(case: Case) -> None:
    findings = run_case(case)
    texts = [f.text() for f in findings]
    shown = "\n".join(texts) or "(none)"
    if case.passing:
        assert not findings, f"{case.name} should pass, but the rule reports:\n{shown}"
        return
    assert findings, f"{case.name} should fail, but {case.rule.id} found nothing"
    for expected in case.meta.get("expect") or []:
        assert any(expected in text for text in texts), (
            f"no finding contains {expected!r}; findings:\n{shown}"
        )
    severity = case.meta.get("severity")
    if severity:
        wrong = [t for f, t in zip(findings, texts, strict=True) if str(f.severity) != severity]
        assert not wrong, (
            f"expected severity {severity} in env {case.meta.get('env')}, got:\n" + "\n".join(wrong)
        )
