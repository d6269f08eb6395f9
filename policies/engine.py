"""Run the catalogue's rules over a repository's inputs, collect findings, apply waivers."""

from __future__ import annotations

import datetime as dt
import traceback
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from policies.catalogue import Catalogue, Rule
from policies.gcpause import gc_paused
from policies.model import Severity, Violation
from policies.sources import Repo
from policies.waivers import MAX_LIFETIME, Waiver
from policies.workloads import pod_templates


@dataclass(eq=False, slots=True)
class Finding:
    """A violation of one rule, with the severity it has in its environment."""

    rule: Rule
    violation: Violation
    severity: Severity
    target: str
    env: str | None = None
    waiver: Waiver | None = None

    @property
    def fix(self) -> str:
        return self.violation.fix or self.rule.remediation

    def text(self) -> str:
        v = self.violation
        return f"[{self.rule.id}] {v.subject}: {v.message}. Fix: {self.fix}"

    def __str__(self) -> str:
        return self.text()


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
    with gc_paused():  # the repository's objects stay alive: no full rescans of them
        return _evaluate(rule, repo)


def _evaluate(rule: Rule, repo: Repo) -> list[Finding]:
    findings: list[Finding] = []
    seen: set[str] = set()
    for target, env, violations in _targets(rule, repo):
        severity = rule.severity_in(env)
        try:
            for violation in violations:
                finding = Finding(
                    rule=rule,
                    violation=violation,
                    severity=_capped(severity, violation.severity),
                    target=target,
                    env=env,
                )
                key = finding.text()
                if key not in seen:
                    seen.add(key)
                    findings.append(finding)
        except Exception as err:  # a check that meets what it did not expect: one finding
            frame = traceback.extract_tb(err.__traceback__)[-1]
            message = (
                f"cannot judge it: check {rule.check.name!r} stopped on "
                f"{type(err).__name__}: {err} (at {frame.filename}:{frame.lineno}); an "
                "object here may have a field of the wrong type (the schema test names it), "
                "else this is a bug in the check: please report it"
            )
            crash = Violation(
                subject=target, message=message, fix="fix the object, or the check in policies/"
            )
            findings.append(
                Finding(rule=rule, violation=crash, severity=Severity.ERROR, target=target, env=env)
            )
    return findings


def _capped(severity: Severity, cap: Severity | None) -> Severity:
    if cap is Severity.WARNING and severity is Severity.ERROR:
        return Severity.WARNING
    return severity


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
    apply_waivers(list(waivers), results.findings, today or dt.date.today())
    return results


def apply_waivers(waivers: Iterable[Waiver], findings: Iterable[Finding], today: dt.date) -> None:
    """Mark findings covered by a live waiver (expired waivers cover nothing)."""
    live = [w for w in waivers if not w.expired(today)]
    for finding in findings:
        for waiver in live:
            if waiver.covers(finding.rule.id, finding.env, finding.violation.subject):
                finding.waiver = waiver
                break


def waiver_problems(
    waivers: Iterable[Waiver], findings: Iterable[Finding], today: dt.date
) -> list[str]:
    """Expired, too long-lived and unused waivers, each as one line a reviewer can act on."""
    findings = list(findings)
    out: list[str] = []
    for waiver in waivers:
        if waiver.expired(today):
            out.append(
                f"{waiver.describe()} has expired: fix the finding or renew the waiver with a new "
                "review"
            )
        elif waiver.expires - today > MAX_LIFETIME:
            out.append(
                f"{waiver.describe()} runs longer than {MAX_LIFETIME.days} days: set an earlier "
                "expiry"
            )
        elif not any(f.waiver is waiver for f in findings):
            out.append(f"{waiver.describe()} matches no finding: remove it")
    return out
