"""The catalogue itself: enough rules, each one tested both ways, documented, and waivable
only through a reviewed, expiring waiver."""

from __future__ import annotations

from collections import Counter

import pytest

from fixtures.static.docs import render_catalogue
from fixtures.static.session import StaticSession
from policies.casefiles import find_cases, orphans
from policies.catalogue import load_catalogue
from policies.loader import all_checks

CATALOGUE = load_catalogue()
MINIMUM_RULES = 45


def test_the_catalogue_has_enough_rules() -> None:
    assert len(CATALOGUE.rules) >= MINIMUM_RULES, (
        f"{len(CATALOGUE.rules)} rules, the issue asks for {MINIMUM_RULES}"
    )


@pytest.mark.parametrize("rule_id", [rule.id for rule in CATALOGUE.rules])
def test_rule_has_a_passing_and_a_failing_case(rule_id: str) -> None:
    """kube-linter's harness rule: an untested rule is a broken rule."""
    cases = find_cases(CATALOGUE.get(rule_id))
    passing = [c.path.name for c in cases if c.passing]
    failing = [c.path.name for c in cases if not c.passing]
    folder = f"policies/cases/{rule_id}/"
    assert passing, f"{rule_id} has no passing case: add {folder}pass-<what>.yaml"
    assert failing, f"{rule_id} has no failing case: add {folder}fail-<what>.yaml"


def test_no_case_belongs_to_a_missing_rule() -> None:
    stray = orphans(list(CATALOGUE.rules))
    assert not stray, "cases of rules that do not exist (renamed or deleted?): " + ", ".join(
        map(str, stray)
    )


def test_every_check_is_used_by_a_rule() -> None:
    used = {rule.check.name for rule in CATALOGUE.rules}
    unused = sorted(set(all_checks()) - used)
    assert not unused, f"checks no rule uses (dead code): {unused}"


def test_checks_live_with_their_rules_and_are_named_after_them() -> None:
    """policies/README.md: rule <group>/<name> is enforced from policies/checks/<group>.py; a
    check that serves one rule is called <name> (<group>-<name> when two groups have a rule
    <name>), a check several rules share keeps a name of its own."""
    rules_using = Counter(rule.check.name for rule in CATALOGUE.rules)
    groups_with = Counter(rule.id.split("/", 1)[1] for rule in CATALOGUE.rules)
    wrong = []
    for rule in CATALOGUE.rules:
        group, name = rule.id.split("/", 1)
        module = f"policies.checks.{group.replace('-', '_')}"
        if rule.check.fn.__module__ != module:
            wrong.append(f"{rule.id}: check {rule.check.name} is in {rule.check.fn.__module__}")
        expected = name if groups_with[name] == 1 else f"{group}-{name}"
        if rules_using[rule.check.name] == 1 and rule.check.name != expected:
            wrong.append(f"{rule.id}: its own check is {rule.check.name!r}, not {expected!r}")
    assert not wrong, "checks out of place or not named after their rule:\n" + "\n".join(wrong)


def test_docs_policies_md_is_current(static: StaticSession) -> None:
    path = static.config.root / "docs" / "policies.md"
    expected = render_catalogue(CATALOGUE)
    regenerate = "`.venv/bin/python -m fixtures.static.docs > docs/policies.md`"
    assert path.is_file(), f"docs/policies.md is missing: run {regenerate}"
    assert path.read_text(encoding="utf-8") == expected, (
        f"docs/policies.md is stale: regenerate it with {regenerate}"
    )
