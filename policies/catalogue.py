"""Load and validate the rule files under `policies/rules/`.

A rule file is data (kube-linter style): what the rule is for, how bad a violation is (per
environment), how to fix it, and which reusable check with which params enforces it.
Everything is validated at load time so a broken rule file is one clear error.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from policies.errors import CatalogueError, MissingInput
from policies.loader import all_checks
from policies.model import Severity
from policies.registry import SCOPES, CheckSpec
from policies.yamlio import load_mapping

POLICIES_DIR = Path(__file__).resolve().parent
RULES_DIR = POLICIES_DIR / "rules"
CASES_DIR = POLICIES_DIR / "cases"

REQUIRED_KEYS = ("id", "title", "severity", "rationale", "remediation", "scope", "check")
OPTIONAL_KEYS = ("environments", "params", "references", "profile", "admission")

# `general` rules hold for any repository; `sre-platform` rules are this repository's own
# conventions (the seed's file names, thresholds and steps, its service's metrics): on for
# this repository, and for another only when its configuration turns the profile on.
PROFILES = ("general", "sre-platform")

# Environment names teams use for the ones the rules' `environments:` severities name.
ENV_ALIASES = {
    "prod": "production",
    "prd": "production",
    "stage": "staging",
    "stg": "staging",
    "development": "dev",
    "develop": "dev",
}
# Namespaces of plain manifests that name an environment (and so pick its severities).
ENVIRONMENT_NAMES = ("dev", "staging", "production", "lab", *ENV_ALIASES)


@dataclass(frozen=True)
class Rule:
    id: str
    title: str
    severity: Severity
    rationale: str
    remediation: str
    scope: str
    check: CheckSpec
    params: Mapping[str, Any]
    file: Path
    environments: Mapping[str, Severity] = field(default_factory=dict)
    references: tuple[str, ...] = ()
    profile: str = "general"
    # The rule is also enforced at admission (policies/admission/, deploy/admission/).
    admission: bool = False

    @property
    def group(self) -> str:
        return self.id.split("/", 1)[0]

    def severity_in(self, env: str | None) -> Severity:
        """The rule's severity in an environment (`environments:` overrides the default)."""
        if env is not None:
            for name in (env, ENV_ALIASES.get(env, env)):
                if name in self.environments:
                    return self.environments[name]
        return self.severity

    def severity_summary(self) -> str:
        if not self.environments:
            return str(self.severity)
        overrides = ", ".join(f"{env}: {sev}" for env, sev in sorted(self.environments.items()))
        return f"{self.severity} ({overrides})"


@dataclass(frozen=True)
class Catalogue:
    rules: tuple[Rule, ...]
    root: Path

    @property
    def by_id(self) -> dict[str, Rule]:
        return {rule.id: rule for rule in self.rules}

    def for_scope(self, *scopes: str) -> list[Rule]:
        return [rule for rule in self.rules if rule.scope in scopes]

    def in_profiles(self, profiles: Collection[str]) -> list[Rule]:
        """The rules a repository with these profiles turned on is judged by."""
        return [rule for rule in self.rules if rule.profile in profiles]

    def get(self, rule_id: str) -> Rule:
        try:
            return self.by_id[rule_id]
        except KeyError:
            raise CatalogueError(f"unknown rule id {rule_id!r}") from None


def _severity(value: Any, where: str) -> Severity:
    try:
        return Severity(value)
    except ValueError:
        choices = ", ".join(s.value for s in Severity)
        raise CatalogueError(f"{where}: severity {value!r} is not one of {choices}") from None


def load_rule(path: Path, rules_dir: Path) -> Rule:
    data = load_mapping(path, "rule file")
    where = str(path)
    missing = [k for k in REQUIRED_KEYS if not data.get(k)]
    if missing:
        raise CatalogueError(f"{where}: missing required keys {missing}")
    unknown = sorted(set(data) - set(REQUIRED_KEYS) - set(OPTIONAL_KEYS))
    if unknown:
        raise CatalogueError(f"{where}: unknown keys {unknown}")
    expected_id = path.relative_to(rules_dir).with_suffix("").as_posix()
    if data["id"] != expected_id:
        raise CatalogueError(f"{where}: id {data['id']!r} must match its path {expected_id!r}")
    for key in ("title", "rationale", "remediation"):
        if not isinstance(data[key], str):
            raise CatalogueError(f"{where}: {key} must be text")
    if data["scope"] not in SCOPES:
        raise CatalogueError(f"{where}: scope {data['scope']!r} is not one of {', '.join(SCOPES)}")
    checks = all_checks()
    spec = checks.get(data["check"])
    if spec is None:
        raise CatalogueError(f"{where}: unknown check {data['check']!r}")
    if spec.scope != data["scope"]:
        raise CatalogueError(
            f"{where}: check {spec.name!r} has scope {spec.scope!r}, rule says {data['scope']!r}"
        )
    params = data.get("params") or {}
    if not isinstance(params, dict):
        raise CatalogueError(f"{where}: params must be a mapping")
    try:
        bound = spec.bind(params)
    except ValueError as err:
        raise CatalogueError(f"{where}: {err}") from None
    profile = data.get("profile", "general")
    if profile not in PROFILES:
        raise CatalogueError(f"{where}: profile {profile!r} is not one of {', '.join(PROFILES)}")
    if not isinstance(data.get("admission", False), bool):
        raise CatalogueError(f"{where}: admission must be true or false")
    envs = data.get("environments") or {}
    if not isinstance(envs, dict):
        raise CatalogueError(f"{where}: environments must map an environment to a severity")
    return Rule(
        id=data["id"],
        title=data["title"].strip(),
        severity=_severity(data["severity"], where),
        rationale=" ".join(data["rationale"].split()),
        remediation=" ".join(data["remediation"].split()),
        scope=data["scope"],
        check=spec,
        params=bound,
        file=path,
        environments={str(k): _severity(v, f"{where}: environments.{k}") for k, v in envs.items()},
        references=tuple(str(r) for r in data.get("references") or ()),
        profile=profile,
        admission=data.get("admission", False),
    )


@cache
def load_catalogue(rules_dir: Path = RULES_DIR) -> Catalogue:
    """Every rule under `rules_dir`, sorted by id; CatalogueError on the first bad file."""
    if not rules_dir.is_dir():
        raise MissingInput(f"{rules_dir}: rules directory does not exist")
    rules = [load_rule(path, rules_dir) for path in sorted(rules_dir.rglob("*.yaml"))]
    seen: set[str] = set()
    for rule in rules:
        if rule.id in seen:
            raise CatalogueError(f"{rule.file}: duplicate rule id {rule.id!r}")
        seen.add(rule.id)
    return Catalogue(rules=tuple(sorted(rules, key=lambda r: r.id)), root=rules_dir)
