"""Read `environments/<name>.yaml`: one environment's cluster, URLs, SLOs and GitOps key.

Used by the operational scripts (through `common.sh`) and importable by the tiers:

    from envfile import load_environment       # with scripts/lib on sys.path
    env = load_environment("lab")               # dict, validated, ${VARS} expanded

The file is checked against `environments/schema.json`; every problem is reported as
`<file>: <key.path>: <what is wrong>` with exit code 65 (EX_DATAERR), an unknown
environment lists the known ones (65), and a missing schema is 66. No tracebacks.

CLI (python3 scripts/lib/envfile.py ...):
    list                      known environment names, one a line
    check <env>...            validate; prints "<file>: ok"
    get <env> <key.path>      one value (booleans as true/false, absent optional keys empty)
    shell <env>               `SP_ENV_<KEY>=<quoted value>` lines for `eval` in bash
    json <env>                the resolved file as JSON
"""

from __future__ import annotations

import json
import os
import re
import shlex
import sys
from os import EX_DATAERR, EX_NOINPUT, EX_UNAVAILABLE, EX_USAGE  # sysexits.h
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
ENV_DIR_VAR = "SRE_PLATFORM_ENVIRONMENTS_DIR"

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


class EnvFileError(Exception):
    """A problem with an environment file, carrying the exit code the CLI uses for it."""

    def __init__(self, message: str, code: int = EX_DATAERR) -> None:
        super().__init__(message)
        self.code = code


def environments_dir() -> Path:
    """Where the environment files are (overridable for tests and other repositories)."""
    override = os.environ.get(ENV_DIR_VAR)
    return Path(override) if override else REPO_ROOT / "environments"


def cache_root() -> Path:
    """`$SRE_PLATFORM_CACHE`, default `${XDG_CACHE_HOME:-~/.cache}/sre-platform` (interfaces.md)."""
    explicit = os.environ.get("SRE_PLATFORM_CACHE")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "sre-platform"


def known_environments(directory: Path | None = None) -> list[str]:
    """Names of the environment files present, sorted."""
    directory = directory or environments_dir()
    return sorted(p.stem for p in directory.glob("*.yaml"))


def _expand(value: str, where: str, file: Path) -> str:
    """Expand ${NAME} and ${NAME:-default}; SRE_PLATFORM_CACHE always has a value."""

    def replace(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if name == "SRE_PLATFORM_CACHE":
            return str(cache_root())
        if name in os.environ and os.environ[name] != "":
            return os.environ[name]
        if default is not None:
            return default
        raise EnvFileError(f"{file}: {where}: ${{{name}}} is not set and has no default")

    return _VAR.sub(replace, value)


def _expand_tree(node: Any, where: str, file: Path) -> Any:
    if isinstance(node, dict):
        return {
            k: _expand_tree(v, f"{where}.{k}" if where else str(k), file) for k, v in node.items()
        }
    if isinstance(node, list):
        return [_expand_tree(v, f"{where}[{i}]", file) for i, v in enumerate(node)]
    if isinstance(node, str):
        return _expand(node, where, file)
    return node


def _key_path(error: Any) -> str:
    parts = [str(p) for p in error.absolute_path]
    if error.validator == "additionalProperties":
        # Name the offending key itself, not only its parent.
        extra = set(error.instance) - set(error.schema.get("properties", {}))
        if len(extra) == 1:
            parts.append(next(iter(extra)))
            return ".".join(parts)
    if error.validator == "required":
        missing = re.match(r"'([^']+)' is a required property", error.message)
        if missing:
            parts.append(missing.group(1))
    return ".".join(parts) or "(top level)"


def _schema() -> dict[str, Any]:
    path = environments_dir() / "schema.json"
    if not path.is_file():
        path = REPO_ROOT / "environments" / "schema.json"
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise EnvFileError(f"{path}: the environment schema is missing", EX_NOINPUT) from None
    except json.JSONDecodeError as exc:
        raise EnvFileError(f"{path}: not valid JSON: {exc}") from None


def validate(data: Any, file: Path) -> None:
    """Raise EnvFileError naming the file and the first offending key (schema order)."""
    try:
        import jsonschema
    except ImportError:
        raise EnvFileError(
            "python package jsonschema is missing; run 'make setup'", EX_UNAVAILABLE
        ) from None
    validator = jsonschema.Draft202012Validator(_schema())
    errors = sorted(validator.iter_errors(data), key=lambda e: list(map(str, e.absolute_path)))
    if errors:
        lines = [f"{file}: {_key_path(e)}: {e.message}" for e in errors[:10]]
        raise EnvFileError("\n".join(lines))
    if data["name"] != file.stem:
        raise EnvFileError(
            f"{file}: name: is {data['name']!r}, must be the file name {file.stem!r}"
        )


def load_environment(name: str, directory: Path | None = None) -> dict[str, Any]:
    """The validated, variable-expanded contents of `environments/<name>.yaml`."""
    try:
        import yaml
    except ImportError:
        raise EnvFileError(
            "python package PyYAML is missing; run 'make setup'", EX_UNAVAILABLE
        ) from None
    directory = directory or environments_dir()
    known = known_environments(directory)
    if not re.fullmatch(r"[a-z][a-z0-9-]{0,30}", name) or name not in known:
        raise EnvFileError(
            f"unknown environment {name!r}; known: {', '.join(known) or '(none)'} "
            f"(files in {directory})"
        )
    file = directory / f"{name}.yaml"
    try:
        raw = yaml.safe_load(file.read_text())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise EnvFileError(f"{file}: {where}malformed YAML: {problem}") from None
    if not isinstance(raw, dict):
        raise EnvFileError(f"{file}: (top level): must be a mapping, is {type(raw).__name__}")
    data = _expand_tree(raw, "", file)
    validate(data, file)
    kubeconfig = data["cluster"].get("kubeconfig")
    if kubeconfig:
        data["cluster"]["kubeconfig"] = os.path.expanduser(kubeconfig)
    return data


def lookup(data: dict[str, Any], dotted: str) -> Any:
    """`a.b.c` in nested dicts; None when absent."""
    node: Any = data
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def _scalar(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


def shell_assignments(data: dict[str, Any], prefix: str = "SP_ENV") -> list[str]:
    """Flatten to `PREFIX_KEY_PATH='value'` lines that bash can eval safely."""
    lines: list[str] = []

    def walk(node: Any, path: list[str]) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                walk(value, [*path, re.sub(r"[^A-Za-z0-9]", "_", str(key)).upper()])
            return
        lines.append(f"{'_'.join([prefix, *path])}={shlex.quote(_scalar(node))}")

    walk(data, [])
    return lines


USAGE = __doc__.split("CLI (", 1)[1].split("\n", 1)[1] if __doc__ else ""


def main(argv: list[str]) -> int:
    if not argv or argv[0] in {"-h", "--help"}:
        print("Usage: envfile.py <command> ...\n" + USAGE, file=sys.stdout if argv else sys.stderr)
        return 0 if argv else EX_USAGE
    command, args = argv[0], argv[1:]
    if command == "list" and not args:
        print("\n".join(known_environments()))
        return 0
    if command == "check" and args:
        for name in args:
            load_environment(name)
            print(f"{environments_dir() / (name + '.yaml')}: ok")
        return 0
    if command == "get" and len(args) == 2:
        print(_scalar(lookup(load_environment(args[0]), args[1])))
        return 0
    if command == "shell" and len(args) == 1:
        print("\n".join(shell_assignments(load_environment(args[0]))))
        return 0
    if command == "json" and len(args) == 1:
        print(json.dumps(load_environment(args[0]), indent=2))
        return 0
    print(f"envfile.py: bad command or arguments: {' '.join(argv)}\n{USAGE}", file=sys.stderr)
    return EX_USAGE


if __name__ == "__main__":
    from scriptcli import run

    run("envfile", main, EnvFileError)
