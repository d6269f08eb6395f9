"""The skip budget of a test tier: a skip is not a pass, so a tier whose JUnit report shows
a skip that its platform's allow-list does not name fails.

    python3 scripts/lib/skip_budget.py --platform kind --allow suites/e2e/skip-allowlist.yaml \
        reports/e2e-kind.xml

The allow-list (YAML): per platform (lab, real-node, kind, ...) a list of entries, each
`test` (an fnmatch pattern on `<classname>::<name>` as JUnit writes them, e.g.
`suites.e2e.test_kind_smoke::*`) and `reason` (why that test cannot run there: required,
documented in docs/e2e.md). Prints every skip with its verdict; exit 0 when every skip is
allowed, 1 when one is not, 64 usage, 65 a malformed allow-list or report, 66 a missing file.
(`scripts/run-pytest.sh --skip-budget <platform>` runs it after the tier.)
"""

from __future__ import annotations

import argparse
import fnmatch
import sys
import xml.etree.ElementTree as ET
from os import EX_DATAERR, EX_NOINPUT, EX_USAGE
from pathlib import Path
from typing import Any

import yaml


class BudgetError(Exception):
    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


def load_allow_list(path: Path, platform: str) -> list[tuple[str, str]]:
    """(pattern, reason) of `platform`; the whole file is checked, not only that platform."""
    if not path.is_file():
        raise BudgetError(f"{path}: no such allow-list", EX_NOINPUT)
    try:
        data: Any = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        problem = getattr(error, "problem", None) or "malformed"
        raise BudgetError(f"{path}: not YAML{where}: {problem}", EX_DATAERR) from None
    if not isinstance(data, dict):
        raise BudgetError(f"{path}: expected a mapping of platform -> entries", EX_DATAERR)
    entries: dict[str, list[tuple[str, str]]] = {}
    for name, items in data.items():
        entries[str(name)] = []
        for i, item in enumerate(items or []):
            where = f"{path}: {name}[{i}]"
            if not isinstance(item, dict) or set(item) != {"test", "reason"}:
                raise BudgetError(f"{where}: expected exactly the keys test and reason", EX_DATAERR)
            if not str(item["reason"]).strip():
                raise BudgetError(f"{where}: an allowed skip needs a reason", EX_DATAERR)
            entries[str(name)].append((str(item["test"]), str(item["reason"])))
    if platform not in entries:
        known = ", ".join(sorted(entries))
        raise BudgetError(f"{path}: no platform {platform!r}; known: {known}", EX_USAGE)
    return entries[platform]


def skips(report: Path) -> list[tuple[str, str]]:
    """(`<classname>::<name>`, skip message) of every skipped test case of a JUnit report."""
    if not report.is_file():
        raise BudgetError(f"{report}: no such JUnit report", EX_NOINPUT)
    try:
        root = ET.parse(report).getroot()  # noqa: S314 - written by our pytest run
    except ET.ParseError as error:
        raise BudgetError(f"{report}: not JUnit XML: {error}", EX_DATAERR) from None
    found = []
    for case in root.iter("testcase"):
        skipped = case.find("skipped")
        if skipped is not None:
            test = f"{case.get('classname')}::{case.get('name')}"
            found.append((test, (skipped.get("message") or "").strip()))
    return found


def judge(found: list[tuple[str, str]], allowed: list[tuple[str, str]]) -> list[str]:
    """A line per skip; the ones not allowed start with NOT ALLOWED."""
    lines = []
    for test, message in found:
        reason = next((r for pattern, r in allowed if fnmatch.fnmatchcase(test, pattern)), None)
        if reason is None:
            lines.append(f"NOT ALLOWED  {test}: {message}")
        else:
            lines.append(f"allowed      {test}: {reason}")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="skip_budget.py", description=__doc__.splitlines()[0] if __doc__ else None
    )
    parser.add_argument("--platform", required=True, help="lab, real-node, kind, ...")
    parser.add_argument("--allow", type=Path, required=True, help="the allow-list (YAML)")
    parser.add_argument("report", type=Path, help="the tier's JUnit report")
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        return EX_USAGE if exit_.code else 0
    try:
        allowed = load_allow_list(args.allow, args.platform)
        lines = judge(skips(args.report), allowed)
    except BudgetError as error:
        print(f"skip-budget: {error}", file=sys.stderr)
        return error.code
    refused = [line for line in lines if line.startswith("NOT ALLOWED")]
    for line in lines:
        print(f"skip-budget[{args.platform}]: {line}", file=sys.stderr)
    print(
        f"skip-budget[{args.platform}]: {len(lines)} skipped, {len(refused)} not on the "
        f"allow-list {args.allow}",
        file=sys.stderr,
    )
    return 1 if refused else 0


if __name__ == "__main__":
    sys.exit(main())
