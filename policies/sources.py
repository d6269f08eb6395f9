"""The non-Kubernetes inputs: workflows, shell scripts, Dockerfiles, the chart's files.

Each keeps the repository-relative file name so findings can point at a line.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from policies.model import Bundle, Facts, PathKey, Violation


@dataclass(eq=False)
class Workflow:
    """One GitHub Actions workflow file (`on:` restored from YAML 1.1's `True`)."""

    file: str
    data: dict[str, Any]

    @property
    def name(self) -> str:
        return PurePosixPath(self.file).name

    @property
    def jobs(self) -> dict[str, dict[str, Any]]:
        jobs = self.data.get("jobs")
        if not isinstance(jobs, dict):
            return {}
        return {str(k): v for k, v in jobs.items() if isinstance(v, dict)}

    @property
    def triggers(self) -> dict[str, Any]:
        on = self.data.get("on")
        if isinstance(on, str):
            return {on: None}
        if isinstance(on, list):
            return {str(t): None for t in on}
        return on if isinstance(on, dict) else {}

    def violation(
        self,
        message: str,
        *,
        job: str | None = None,
        step: int | None = None,
        path: tuple[PathKey, ...] = (),
        fix: str | None = None,
    ) -> Violation:
        subject = f"workflow {self.name}"
        full: tuple[PathKey, ...] = path
        if job is not None:
            subject += f' job "{job}"'
            full = ("jobs", job, *path)
            if step is not None:
                subject += f" step {step_label(self.jobs.get(job, {}), step)}"
                full = ("jobs", job, "steps", step, *path)
        return Violation(subject=subject, message=message, file=self.file, path=full, fix=fix)


def steps_of(job: dict[str, Any]) -> list[dict[str, Any]]:
    steps = job.get("steps")
    return [s for s in steps if isinstance(s, dict)] if isinstance(steps, list) else []


def step_label(job: dict[str, Any], index: int) -> str:
    steps = steps_of(job)
    if 0 <= index < len(steps):
        step = steps[index]
        label = step.get("name") or step.get("id") or str(step.get("uses") or "").split("@")[0]
        if label:
            return f'"{label}"'
    return f"#{index + 1}"


def needs_of(job: dict[str, Any]) -> list[str]:
    needs = job.get("needs")
    if isinstance(needs, str):
        return [needs]
    if isinstance(needs, list):
        return [str(n) for n in needs]
    return []


@dataclass(eq=False)
class WorkflowSet:
    """The workflows folder; `workflows` keeps file order."""

    folder: str
    workflows: list[Workflow] = field(default_factory=list)
    makefile: dict[str, str] = field(default_factory=dict)
    coverage_fail_under: float | None = None

    def get(self, name: str) -> Workflow | None:
        for wf in self.workflows:
            if wf.name == name or wf.file == name:
                return wf
        return None

    def commands(self, step: dict[str, Any]) -> str:
        """A step's `run` text with `make <target>` expanded into the Makefile recipes it runs."""
        text = str(step.get("run") or "")
        seen: set[str] = set()
        pending = [
            t for m in _MAKE.finditer(text) for t in m.group(1).split() if not t.startswith("-")
        ]
        parts = [text]
        while pending:
            target = pending.pop(0)
            if target in seen or target not in self.makefile:
                continue
            seen.add(target)
            recipe = self.makefile[target]
            parts.append(recipe)
            pending.extend(t for m in _MAKE.finditer(recipe) for t in m.group(1).split())
            pending.extend(self.makefile.get(f"{target}:deps", "").split())
        return "\n".join(parts)


_MAKE = re.compile(r"\bmake\s+((?:[A-Za-z0-9_.-]+=\S+\s+|[A-Za-z0-9_.-]+\s*)+)")


def parse_makefile(text: str) -> dict[str, str]:
    """target -> recipe text (and `target:deps` -> prerequisites) of a simple Makefile."""
    targets: dict[str, str] = {}
    current: list[str] = []
    for line in text.splitlines():
        if line.startswith("\t") and current:
            for name in current:
                targets[name] = (targets.get(name, "") + "\n" + line.strip()).strip()
            continue
        match = re.match(r"^([A-Za-z0-9_. -]+?)\s*:(?!=)\s*([^#]*)", line)
        if match and not line.startswith((".", "\t", "#")):
            current = match.group(1).split()
            for name in current:
                targets.setdefault(name, "")
                targets[f"{name}:deps"] = match.group(2).strip()
        elif line.strip() and not line.startswith("\t"):
            current = []
    return targets


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

    def violation(
        self,
        subject: str,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        path: tuple[PathKey, ...] = (),
        fix: str | None = None,
    ) -> Violation:
        return Violation(subject=subject, message=message, file=file, line=line, path=path, fix=fix)
