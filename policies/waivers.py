"""Reviewed exceptions to rules: one file, each with a reason and an expiry date.

The engine applies them to its findings (`policies.engine.apply_waivers`) and reports the
stale ones (`waiver_problems`).

kube-linter and checkov accept a reason but never expire; here an expired waiver stops
suppressing its findings and is reported as a failure itself, an unknown rule id is an
error at load time, and a waiver that matches nothing is reported so it gets removed.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
from dataclasses import dataclass
from pathlib import Path

from policies.catalogue import Catalogue
from policies.errors import CatalogueError
from policies.yamlio import YamlLocator, load_mapping, read_text

KEYS = {"rule", "subject", "environments", "reason", "expires"}
MAX_LIFETIME = dt.timedelta(days=366)
MIN_REASON = 20


@dataclass(frozen=True)
class Waiver:
    rule: str
    subject: str
    environments: tuple[str, ...]
    reason: str
    expires: dt.date
    file: str
    line: int | None

    def expired(self, today: dt.date) -> bool:
        return today > self.expires

    def covers(self, rule_id: str, env: str | None, subject: str) -> bool:
        """Whether this waiver is for the rule, the environment and (a glob of) the subject."""
        if rule_id != self.rule:
            return False
        if self.environments and env not in self.environments:
            return False
        return fnmatch.fnmatchcase(subject, self.subject)

    def describe(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"waiver for [{self.rule}] {self.subject!r} ({where}, expires {self.expires})"


def load_waivers(path: Path, catalogue: Catalogue) -> list[Waiver]:
    """The waivers file; a missing file means no waivers; bad entries raise CatalogueError."""
    if not path.exists():
        return []
    data = load_mapping(path, "waivers file")
    entries = data.get("waivers") or []
    if not isinstance(entries, list):
        raise CatalogueError(f"{path}: 'waivers' must be a list")
    locator = YamlLocator(read_text(path))
    known = catalogue.by_id
    waivers = []
    for index, entry in enumerate(entries):
        line = locator.line(0, ("waivers", index))
        where = f"{path}:{line}"
        if not isinstance(entry, dict):
            raise CatalogueError(f"{where}: a waiver must be a mapping")
        unknown = sorted(set(entry) - KEYS)
        if unknown:
            raise CatalogueError(f"{where}: unknown waiver keys {unknown}")
        rule = entry.get("rule")
        if rule not in known:
            raise CatalogueError(f"{where}: waiver names unknown rule id {rule!r}")
        reason = str(entry.get("reason") or "").strip()
        if len(reason) < MIN_REASON:
            raise CatalogueError(
                f"{where}: waiver for {rule} needs a reason (>= {MIN_REASON} characters)"
            )
        expires = _date(entry.get("expires"), where)
        envs = entry.get("environments") or []
        if isinstance(envs, str):
            envs = [envs]
        waivers.append(
            Waiver(
                rule=str(rule),
                subject=str(entry.get("subject") or "*"),
                environments=tuple(str(e) for e in envs),
                reason=" ".join(reason.split()),
                expires=expires,
                file=str(path),
                line=line,
            )
        )
    return waivers


def _date(value: object, where: str) -> dt.date:
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise CatalogueError(f"{where}: expires {value!r} is not a YYYY-MM-DD date") from None
