"""The non-Kubernetes inputs: shell scripts, Dockerfiles, the chart's files, and the `Repo`
that holds every input of one run (workflows: `policies/workflows.py`).

Each keeps the repository-relative file name so findings can point at a line.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from policies.model import Bundle, Facts, Violation
from policies.workflows import WorkflowSet


@dataclass(eq=False)
class Script:
    file: str
    text: str

    @property
    def lines(self) -> list[str]:
        return self.text.splitlines()

    def violation(self, message: str, line: int | None = None, fix: str | None = None) -> Violation:
        return Violation(
            subject=f"script {self.file}", message=message, file=self.file, line=line, fix=fix
        )


@dataclass(frozen=True)
class Instruction:
    line: int
    keyword: str
    args: str
    stage: int

    @property
    def words(self) -> list[str]:
        try:
            return shlex.split(self.args, comments=False)
        except ValueError:
            return self.args.split()

    def flags(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for word in self.words:
            if not word.startswith("--"):
                break
            key, _, value = word[2:].partition("=")
            out[key] = value
        return out


@dataclass(frozen=True)
class Stage:
    index: int
    base: str
    name: str | None
    line: int
    platform: str | None


@dataclass(eq=False)
class Dockerfile:
    file: str
    text: str
    instructions: list[Instruction]
    stages: list[Stage]

    def in_stage(self, index: int) -> list[Instruction]:
        return [i for i in self.instructions if i.stage == index]

    def violation(self, message: str, line: int | None = None, fix: str | None = None) -> Violation:
        return Violation(
            subject=f"Dockerfile {self.file}", message=message, file=self.file, line=line, fix=fix
        )


_CONTINUATION = re.compile(r"\\\s*$")


def parse_dockerfile(file: str, text: str) -> Dockerfile:
    """Instructions with their first line, joined over `\\` continuations; stages by FROM."""
    instructions: list[Instruction] = []
    stages: list[Stage] = []
    pending: list[str] = []
    start = 0
    heredoc: str | None = None
    for number, raw in enumerate(text.splitlines(), start=1):
        if heredoc is not None:
            if raw.strip() == heredoc:
                heredoc = None
            continue
        stripped = raw.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if pending and stripped.startswith("#"):
            continue
        if not pending:
            start = number
        if _CONTINUATION.search(raw):
            pending.append(_CONTINUATION.sub("", raw).strip())
            continue
        pending.append(stripped)
        joined = " ".join(p for p in pending if p)
        pending = []
        keyword, _, args = joined.partition(" ")
        keyword = keyword.upper()
        marker = re.search(r"<<-?\s*['\"]?([A-Za-z_]+)['\"]?", args)
        if marker and keyword in {"RUN", "COPY"}:
            heredoc = marker.group(1)
        if keyword == "FROM":
            stages.append(_stage(len(stages), args.strip(), start))
        instructions.append(Instruction(start, keyword, args.strip(), max(len(stages) - 1, 0)))
    return Dockerfile(file=file, text=text, instructions=instructions, stages=stages)


def _stage(index: int, args: str, line: int) -> Stage:
    words = args.split()
    platform = None
    while words and words[0].startswith("--"):
        if words[0].startswith("--platform="):
            platform = words[0].split("=", 1)[1]
        words = words[1:]
    base = words[0] if words else ""
    name = words[2] if len(words) >= 3 and words[1].upper() == "AS" else None
    return Stage(index=index, base=base, name=name, line=line, platform=platform)


@dataclass(eq=False)
class ValuesFile:
    env: str
    file: str
    data: dict[str, Any]


@dataclass(eq=False)
class Chart:
    """The chart's own files: what the GitOps-key and drift rules compare against."""

    path: str
    name: str
    values: dict[str, Any]
    values_files: dict[str, ValuesFile]
    templates: dict[str, str]


@dataclass(eq=False)
class Repo:
    """Everything the tier checks, for rules that look across files."""

    root: str
    bundles: list[Bundle] = field(default_factory=list)
    argocd: Bundle | None = None
    workflows: WorkflowSet | None = None
    scripts: list[Script] = field(default_factory=list)
    dockerfiles: list[Dockerfile] = field(default_factory=list)
    chart: Chart | None = None
    facts: Facts = field(default_factory=Facts)
    files: frozenset[str] | None = None  # the repository's files when not on disk (rule cases)
    environments: dict[str, dict[str, Any]] = field(default_factory=dict)
    texts: dict[str, str] = field(default_factory=dict)  # file contents of a rule case
    commits: frozenset[str] | None = None  # the repository's commits in a rule case

    def is_commit(self, sha: str) -> bool | None:
        """Whether `sha` is a commit of this repository; None when git cannot tell (no git
        history here, or a shallow clone that may simply not have fetched it)."""
        if self.commits is not None:
            return sha in self.commits
        git = shutil.which("git")
        if git is None:
            return None
        found = subprocess.run(  # noqa: S603 (git with a validated hex SHA)
            [git, "-C", self.root, "cat-file", "-e", f"{sha}^{{commit}}"],
            capture_output=True,
            check=False,
        )
        if found.returncode == 0:
            return True
        shallow = subprocess.run(  # noqa: S603
            [git, "-C", self.root, "rev-parse", "--is-shallow-repository"],
            capture_output=True,
            text=True,
            check=False,
        )
        return False if shallow.returncode == 0 and shallow.stdout.strip() == "false" else None

    def read(self, relative: str) -> str | None:
        """A repository file's text, or None when it does not exist (or cannot be read)."""
        relative = relative.strip("/").removeprefix("./")
        if self.files is not None:
            return self.texts.get(relative)
        try:
            return (Path(self.root) / relative).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return None

    def exists(self, relative: str) -> bool:
        """Whether a repository-relative path exists (file or directory)."""
        relative = relative.strip("/").removeprefix("./")
        if self.files is not None:
            return any(f == relative or f.startswith(relative + "/") for f in self.files)
        return (Path(self.root) / relative).exists()

    def script(self, name: str) -> Script | None:
        for script in self.scripts:
            if script.file == name or PurePosixPath(script.file).name == name:
                return script
        return None

    def rendered(self, name: str) -> Bundle | None:
        for bundle in self.bundles:
            if bundle.name == name:
                return bundle
        return None
