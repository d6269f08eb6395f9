"""Operational shell scripts: strict mode, a usage text, and no history rewriting."""

from __future__ import annotations

import re
from collections.abc import Iterator

from policies.model import Violation
from policies.registry import Params, check
from policies.sources import Script


def _strict_flags(line: str) -> set[str]:
    flags: set[str] = set()
    words = line.split("#", 1)[0].split()[1:]
    i = 0
    while i < len(words):
        word = words[i]
        if word == "-o" and i + 1 < len(words):
            flags.add(
                {"errexit": "e", "nounset": "u", "pipefail": "pipefail"}.get(
                    words[i + 1], words[i + 1]
                )
            )
            i += 2
            continue
        if word.startswith("-") and not word.startswith("--"):
            letters = word[1:]
            if letters.endswith("o") and i + 1 < len(words):
                flags.update(letters[:-1])
                flags.add("pipefail" if words[i + 1] == "pipefail" else words[i + 1])
                i += 2
                continue
            flags.update(letters)
        i += 1
    return flags


_POSIX_SH = re.compile(r"^#!\s*(?:/usr)?/bin/(?:env\s+)?(?:sh|dash|ash)\s*$")


@check("strict-mode", "scripts", within_lines=15)
def strict_mode(script: Script, params: Params) -> Iterator[Violation]:
    """`set -euo pipefail` near the top (before any command), so a failed step stops the script;
    a POSIX `sh` script, which has no pipefail everywhere, needs `set -eu`."""
    posix = bool(script.lines and _POSIX_SH.match(script.lines[0].strip()))
    wanted = ("-e", "-u") if posix else ("-e", "-u", "pipefail")
    command = "set -eu" if posix else "set -euo pipefail"
    flags: set[str] = set()
    for line in script.lines[: params["within_lines"]]:
        stripped = line.strip()
        if re.match(r"^set\s+[-+]", stripped):
            flags |= _strict_flags(stripped)
            if {w.lstrip("-") for w in wanted} <= flags:
                return
    missing = [m for m in wanted if m.lstrip("-") not in flags]
    yield script.violation(
        f"does not start with {command} (missing {', '.join(missing)})",
        line=1,
        fix=f"add `{command}` right after the shebang",
    )


@check("shebang", "scripts", allowed=["#!/usr/bin/env bash", "#!/bin/bash"])
def shebang(script: Script, params: Params) -> Iterator[Violation]:
    first = script.lines[0].strip() if script.lines else ""
    if first not in params["allowed"]:
        yield script.violation(
            f"starts with {first or 'no shebang'!r}",
            line=1,
            fix=f"start the script with {params['allowed'][0]}",
        )


@check("usage", "scripts")
def usage(script: Script, params: Params) -> Iterator[Violation]:
    text = script.text
    if not re.search(r"(^|[\s|(\"'])--help\b", text) or not re.search(
        r"\busage\b", text, re.IGNORECASE
    ):
        yield script.violation(
            "has no --help with a usage text",
            line=1,
            fix="handle -h|--help by printing a Usage: text and exiting 0",
        )


REWRITES = [
    (
        re.compile(r"\bgit\s+push\b[^\n#]*(\s--force\b|\s-f\b|\s--force-with-lease\b|\s\+\S)"),
        "force-pushes",
    ),
    (re.compile(r"\bgit\s+reset\s+--hard\b"), "runs git reset --hard"),
    (re.compile(r"\bgit\s+(filter-branch|filter-repo)\b"), "rewrites history"),
    (re.compile(r"\bgit\s+rebase\b"), "rebases"),
    (re.compile(r"\bgit\s+commit\b[^\n#]*--amend\b"), "amends a commit"),
]


@check("no-history-rewrite", "scripts")
def no_history_rewrite(script: Script, params: Params) -> Iterator[Violation]:
    """GitOps history is the audit log: roll back with a new (revert) commit only."""
    for number, line in enumerate(script.lines, start=1):
        code = line.split("#", 1)[0] if not line.lstrip().startswith("#") else ""
        for pattern, what in REWRITES:
            if pattern.search(code):
                yield script.violation(
                    f"{what} (line {number})", line=number, fix="use git revert and a normal push"
                )
