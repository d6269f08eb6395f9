"""Read and write one scalar key of a GitOps values file, and find the commit that last changed it.

The image tag of an environment lives in exactly one key, `image.tag` of
`helm/values-<env>.yaml` (docs/interfaces.md). CI's GitOps update and
`scripts/rollback.sh` both write it through this module, so there is one writer.

Writing edits only the bytes of that one scalar (located with PyYAML's node marks): comments,
quoting and layout of the rest of the file stay exactly as they were, so a GitOps commit's
diff is one line. The new value is always double-quoted, because a short SHA such as
`1234567` or `12e4567` would otherwise load as a number.

CLI (python3 scripts/lib/gitops.py ...):
    get <file> <key.path>                 print the value
    set <file> <key.path> <tag>           write it; prints "changed <old> -> <new>" or
                                          "unchanged <tag>"
    last-change <repo> <file> <key.path> [--shell]
                                          the newest commit (from HEAD) that changed the value:
                                          commit, subject, old, new, only_change, trailers; as
                                          JSON, or with --shell as CHANGE_<FIELD>=<quoted> lines
    check-tag <tag>                       exit 0 when <tag> is a valid image tag, else 65
Exit codes: 0 ok, 64 usage, 65 bad data (malformed YAML, key missing, not a scalar, bad tag,
no commit changed the key), 66 file missing, 69 git missing, 70 internal error.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess  # nosec B404
import sys
from dataclasses import asdict, dataclass
from os import EX_DATAERR, EX_NOINPUT, EX_SOFTWARE, EX_UNAVAILABLE, EX_USAGE  # sysexits.h
from pathlib import Path
from typing import Any

# The OCI distribution spec's tag grammar.
TAG_PATTERN = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")


class GitOpsError(Exception):
    def __init__(self, message: str, code: int = EX_DATAERR) -> None:
        super().__init__(message)
        self.code = code


def check_tag(tag: str) -> str:
    if not TAG_PATTERN.fullmatch(tag):
        raise GitOpsError(
            f"{tag!r} is not a valid image tag (letters, digits, '_', '.', '-'; at most 128; "
            "not starting with '.' or '-')"
        )
    return tag


def _yaml() -> Any:
    try:
        import yaml
    except ImportError:
        raise GitOpsError(
            "python package PyYAML is missing; run 'make setup'", EX_UNAVAILABLE
        ) from None
    return yaml


def _find_scalar(text: str, dotted: str, source: str) -> tuple[Any, Any]:
    """(key node, ScalarNode) at `dotted` in the YAML `text` (top level: a mapping)."""
    yaml = _yaml()
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        raise GitOpsError(f"{source}: malformed YAML: {exc}") from None
    path: list[str] = []
    key: Any = None
    for part in dotted.split("."):
        if not isinstance(node, yaml.MappingNode):
            where = ".".join(path) or "(top level)"
            raise GitOpsError(f"{source}: {where} is not a mapping, cannot hold key {dotted!r}")
        matches = [
            (k, v) for k, v in node.value if isinstance(k, yaml.ScalarNode) and k.value == part
        ]
        path.append(part)
        if not matches:
            raise GitOpsError(f"{source}: key {'.'.join(path)!r} is missing (need {dotted!r})")
        if len(matches) > 1:
            raise GitOpsError(f"{source}: key {'.'.join(path)!r} appears more than once")
        key, node = matches[0]
    if not isinstance(node, yaml.ScalarNode):
        raise GitOpsError(f"{source}: {dotted} is not a scalar value")
    return key, node


def get_value(text: str, dotted: str, source: str = "<text>") -> str:
    _, node = _find_scalar(text, dotted, source)
    return str(node.value)


def set_value(text: str, dotted: str, value: str, source: str = "<text>") -> str:
    """`text` with the scalar at `dotted` replaced by the double-quoted `value`."""
    key, node = _find_scalar(text, dotted, source)
    start, end = node.start_mark.index, node.end_mark.index
    if node.style in ("|", ">"):
        raise GitOpsError(f"{source}: {dotted} is a block scalar; write it as a plain value")
    replacement = json.dumps(value)
    if start == end:
        # An empty plain value (`tag:` alone): write right after the key's colon.
        colon = text.index(":", key.end_mark.index)
        start = end = colon + 1
        replacement = " " + replacement
    updated = text[:start] + replacement + text[end:]
    if get_value(updated, dotted, source) != value:  # pragma: no cover - a bug guard
        raise GitOpsError(f"{source}: writing {dotted} did not round-trip", EX_SOFTWARE)
    return updated


def _git(repo: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    try:
        # Fixed git arguments, no shell; git is found on PATH like every other caller's.
        return subprocess.run(  # noqa: S603  # nosec B603 B607
            ["git", "-C", str(repo), *args],  # noqa: S607
            check=check,
            capture_output=True,
            text=True,
        )
    except FileNotFoundError:
        raise GitOpsError("git is not installed", EX_UNAVAILABLE) from None
    except subprocess.CalledProcessError as exc:
        raise GitOpsError(f"git {' '.join(args)} failed in {repo}: {exc.stderr.strip()}") from None


def _value_at(repo: Path, commit: str, file: str, dotted: str) -> str | None:
    shown = _git(repo, "show", f"{commit}:{file}", check=False)
    if shown.returncode != 0:
        return None  # the file did not exist in that commit
    try:
        return get_value(shown.stdout, dotted, f"{commit[:12]}:{file}")
    except GitOpsError:
        return None


@dataclass
class Change:
    commit: str
    subject: str
    old: str | None
    new: str | None
    only_change: bool  # the commit changes nothing but this one value (a clean `git revert`)
    trailers: dict[str, str]


def last_change(repo: Path, file: str, dotted: str) -> Change:
    """The newest commit reachable from HEAD whose diff changed the value of `dotted` in `file`."""
    log = _git(repo, "log", "--format=%H", "--", file).stdout.split()
    for commit in log:
        new = _value_at(repo, commit, file, dotted)
        parents = _git(repo, "rev-list", "--parents", "-n", "1", commit).stdout.split()[1:]
        old = _value_at(repo, parents[0], file, dotted) if parents else None
        if new == old:
            continue
        subject = _git(repo, "log", "-1", "--format=%s", commit).stdout.strip()
        body = _git(repo, "log", "-1", "--format=%(trailers:only,unfold)", commit).stdout
        trailers = {}
        for line in body.splitlines():
            key, sep, val = line.partition(":")
            if sep:
                trailers[key.strip()] = val.strip()
        only = False
        if parents and old is not None and len(parents) == 1:
            names = _git(repo, "diff", "--name-only", parents[0], commit).stdout.split()
            numstat = _git(repo, "diff", "--numstat", parents[0], commit, "--", file).stdout.split()
            only = names == [file] and numstat[:2] == ["1", "1"]
        return Change(commit, subject, old, new, only, trailers)
    raise GitOpsError(f"no commit reachable from HEAD in {repo} changed {dotted} in {file}")


def main(argv: list[str]) -> int:
    if not argv or argv[0] in {"-h", "--help"}:
        usage = (__doc__ or "").split("CLI (", 1)[1].split("\n", 1)[1]
        print("Usage: gitops.py <command> ...\n" + usage, file=sys.stdout if argv else sys.stderr)
        return 0 if argv else EX_USAGE
    command, args = argv[0], argv[1:]
    if command in {"get", "set"} and len(args) == (2 if command == "get" else 3):
        path = Path(args[0])
        if not path.is_file():
            raise GitOpsError(f"{path}: no such file", EX_NOINPUT)
        text = path.read_text()
        if command == "get":
            print(get_value(text, args[1], str(path)))
            return 0
        tag = check_tag(args[2])
        old = get_value(text, args[1], str(path))
        if old == tag:
            print(f"unchanged {tag}")
            return 0
        path.write_text(set_value(text, args[1], tag, str(path)))
        print(f"changed {old} -> {tag}")
        return 0
    if command == "last-change" and len(args) in (3, 4) and args[3:] in ([], ["--shell"]):
        repo = Path(args[0])
        if not (repo / args[1]).is_file():
            raise GitOpsError(f"{repo / args[1]}: no such file", EX_NOINPUT)
        change = last_change(repo, args[1], args[2])
        if args[3:] == ["--shell"]:
            fields = asdict(change)
            fields["rollback_env"] = change.trailers.get("Rollback-Env", "")
            del fields["trailers"]
            for name, value in fields.items():
                text = (
                    ""
                    if value is None
                    else str(value).lower()
                    if isinstance(value, bool)
                    else str(value)
                )
                print(f"CHANGE_{name.upper()}={shlex.quote(text)}")
        else:
            print(json.dumps(asdict(change)))
        return 0
    if command == "check-tag" and len(args) == 1:
        check_tag(args[0])
        return 0
    print(f"gitops.py: bad command or arguments: {' '.join(argv)} (see --help)", file=sys.stderr)
    return EX_USAGE


if __name__ == "__main__":
    from scriptcli import run

    run("gitops", main, GitOpsError)
