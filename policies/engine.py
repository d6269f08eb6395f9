"""Run the catalogue's rules over a repository's inputs and collect findings."""

from __future__ import annotations

import datetime as dt
import traceback
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from policies import waivers as waiver_mod
from policies.catalogue import Catalogue, Rule
from policies.model import Finding, Severity, Violation
from policies.sources import Repo
from policies.waivers import Waiver
from policies.workloads import pod_templates


@dataclass
class Results:
    findings: list[Finding] = field(default_factory=list)

    def for_rule(self, rule_id: str) -> list[Finding]:
        return [f for f in self.findings if f.rule.id == rule_id]

    @property
    def failures(self) -> list[Finding]:
        return [f for f in self.findings if f.severity is Severity.ERROR and f.waiver is None]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity is Severity.WARNING and f.waiver is None]

    @property
    def waived(self) -> list[Finding]:
        return [f for f in self.findings if f.waiver is not None]


def _targets(rule: Rule, repo: Repo) -> Iterator[tuple[str, str | None, Iterable[Violation]]]:
    """(target name, environment, violations) for each thing the rule's scope covers."""
    fn, params = rule.check.fn, rule.params
    if rule.scope == "workloads":
        for bundle in repo.bundles:
            if rule.severity_in(bundle.env) is Severity.OFF:
                continue
            pods = pod_templates(bundle)
            yield bundle.name, bundle.env, (v for pod in pods for v in fn(pod, bundle, params))
    elif rule.scope == "manifests":
        for bundle in repo.bundles:
            if rule.severity_in(bundle.env) is not Severity.OFF:
                yield bundle.name, bundle.env, fn(bundle, params)
    elif rule.scope == "workflows":
        if repo.workflows is not None:
            yield repo.workflows.folder, None, fn(repo.workflows, params)
    elif rule.scope == "scripts":
        for script in repo.scripts:
            yield script.file, None, fn(script, params)
    elif rule.scope == "dockerfile":
        for dockerfile in repo.dockerfiles:
            yield dockerfile.file, None, fn(dockerfile, params)
    elif rule.scope == "repo":
        yield "repository", None, fn(repo, params)


def evaluate(rule: Rule, repo: Repo) -> list[Finding]:
    """The rule's findings on `repo`; a crashing check becomes one error finding, not a crash."""
    findings: list[Finding] = []
    seen: set[str] = set()
    for target, env, violations in _targets(rule, repo):
        severity = rule.severity_in(env)
        try:
            for violation in violations:
                finding = Finding(
                    rule=rule, violation=violation, severity=severity, target=target, env=env
                )
                key = finding.text()
                if key not in seen:
                    seen.add(key)
                    findings.append(finding)
        except Exception as err:  # a bug in a check must not hide the other rules' results
            frame = traceback.extract_tb(err.__traceback__)[-1]
            message = (
                f"internal error in check {rule.check.name!r}: {type(err).__name__}: {err} "
                f"(at {frame.filename}:{frame.lineno}); please report it"
            )
            crash = Violation(
                subject=target, message=message, fix="fix the check in policies/checks/"
            )
            findings.append(
                Finding(rule=rule, violation=crash, severity=Severity.ERROR, target=target, env=env)
            )
    return findings


def run(
    catalogue: Catalogue,
    repo: Repo,
    waivers: Iterable[Waiver] = (),
    today: dt.date | None = None,
    rules: Iterable[Rule] | None = None,
) -> Results:
    """Every rule (or the given ones) over `repo`, with waivers applied."""
    results = Results()
    for rule in rules if rules is not None else catalogue.rules:
        results.findings.extend(evaluate(rule, repo))
    waiver_mod.apply(list(waivers), results.findings, today or dt.date.today())
    return results
