"""The validate tier's options: each a command-line flag, an ini key and an environment
variable (the command line wins over the environment, which wins over the ini file)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from fixtures.tools import REPO_ROOT

if TYPE_CHECKING:
    from fixtures.environment import Environment

EX_USAGE = 64


@dataclass(frozen=True)
class Option:
    dest: str
    flag: str
    ini: str
    env: str
    kind: str  # "str", "path", "bool", "int"
    default: Any
    help: str


OPTIONS = (
    Option("env", "--env", "validate_env", "SRE_PLATFORM_ENV", "str", None,
           "the environment to check: a file environments/<NAME>.yaml"),
    Option("env_file", "--env-file", "validate_env_file", "SRE_PLATFORM_ENV_FILE", "path", None,
           "an environment file elsewhere (its name is its file name)"),
    Option("full", "--full", "validate_full", "SRE_PLATFORM_VALIDATE_FULL", "bool", False,
           "add a bounded latency probe (--probe-requests requests) against the service"),
    Option("read_only", "--read-only", "validate_read_only", "SRE_PLATFORM_VALIDATE_READ_ONLY",
           "bool", False, "skip the API smoke round trip (the only write, to the service's API)"),
    Option("gitops_root_option", "--gitops-root", "validate_gitops_root",
           "SRE_PLATFORM_GITOPS_ROOT", "path", None,
           "checkout of the GitOps repository (gitops.values_file is relative to it); "
           "default: the environment's gitops.checkout, else this repository"),
    Option("expected_revision", "--expected-revision", "validate_expected_revision",
           "SRE_PLATFORM_EXPECTED_REVISION", "str", None,
           "the commit ArgoCD must have synced; default: gitops.branch in --gitops-root"),
    Option("probe_requests", "--probe-requests", "validate_probe_requests",
           "SRE_PLATFORM_PROBE_REQUESTS", "int", 50, "requests of the --full latency probe"),
)  # fmt: skip


@dataclass(frozen=True)
class ValidateOptions:
    env: str | None
    env_file: Path | None
    full: bool
    read_only: bool
    gitops_root_option: Path | None
    expected_revision: str | None
    probe_requests: int

    @classmethod
    def from_config(cls, config: pytest.Config) -> ValidateOptions:
        values: dict[str, Any] = {}
        for o in OPTIONS:
            value: Any = config.getoption(f"validate_{o.dest}")
            if value is None and o.env in os.environ:
                raw = os.environ[o.env]
                value = (
                    raw.strip().lower() in ("1", "true", "yes", "on") if o.kind == "bool" else raw
                )
            if value is None:
                value = config.getini(o.ini)
            if o.kind == "int":
                try:
                    value = int(value)
                except (TypeError, ValueError):
                    pytest.exit(f"validate: {o.flag}: expected a number, got {value!r}", EX_USAGE)
                if value < 1:
                    pytest.exit(f"validate: {o.flag}: must be at least 1, is {value}", EX_USAGE)
            elif o.kind == "path":
                value = Path(value).expanduser().resolve() if value else None
            elif o.kind == "str":
                value = value or None
            values[o.dest] = value
        return cls(**values)

    def gitops_root(self, environment: Environment) -> Path:
        """--gitops-root, else the environment's gitops.checkout, else this repository."""
        return self.gitops_root_option or environment.gitops_checkout or REPO_ROOT
