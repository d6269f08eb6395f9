"""GitHub Actions workflows as the checks read them: jobs, steps, `needs`, and the stages
(steps matching a `uses`/`run` pattern) a pipeline is made of, with `make` targets expanded
into the Makefile recipes they run.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from policies.model import PathKey, Violation


@dataclass(eq=False)
class Workflow:
    """One GitHub Actions workflow file."""

    file: str
    data: dict[str, Any]

    @classmethod
    def parsed(cls, file: str, data: dict[Any, Any]) -> Workflow:
        """A workflow from its parsed YAML, copied (parsed documents are shared) and with the
        key `on` restored (YAML 1.1 reads it as the boolean True)."""
        data = dict(data)
        if True in data and "on" not in data:
            data["on"] = data.pop(True)
        return cls(file, data)

    @property
    def name(self) -> str:
        return PurePosixPath(self.file).name

    @property
    def jobs(self) -> dict[str, dict[str, Any]]:
        jobs = self.data.get("jobs")
        if not isinstance(jobs, dict):
            return {}
        return {str(k): v for k, v in jobs.items() if isinstance(v, dict)}

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


@dataclass(frozen=True)
class Location:
    """Where a stage runs: a job, and the index of the step in it."""

    job: str
    step: int


def transitive_needs(wf: Workflow, job: str) -> set[str]:
    """Every job `job` waits for, directly or through other jobs."""
    out: set[str] = set()
    pending = needs_of(wf.jobs.get(job, {}))
    while pending:
        name = pending.pop()
        if name not in out:
            out.add(name)
            pending.extend(needs_of(wf.jobs.get(name, {})))
    return out


def step_matches(workflows: WorkflowSet, step: dict[str, Any], matcher: Mapping[str, str]) -> bool:
    """Whether a step's `uses` or its commands (make targets expanded) match the patterns."""
    uses = str(step.get("uses") or "")
    if matcher.get("uses") and re.search(matcher["uses"], uses):
        return True
    if matcher.get("run") and step.get("run") is not None:
        return re.search(matcher["run"], workflows.commands(step), re.MULTILINE) is not None
    return False


def job_steps(workflows: WorkflowSet, job: dict[str, Any]) -> list[dict[str, Any]]:
    """A job's steps; a job that calls a local reusable workflow runs that workflow's steps."""
    uses = str(job.get("uses") or "")
    if uses.startswith("./"):
        called = workflows.get(uses[2:].split("@")[0])
        if called is not None:
            return [step for inner in called.jobs.values() for step in steps_of(inner)]
    return steps_of(job)


def find_stage(workflows: WorkflowSet, wf: Workflow, matcher: Mapping[str, str]) -> list[Location]:
    """Every step of `wf` that matches (a stage may run in several jobs)."""
    found = []
    for job_id, job in wf.jobs.items():
        for index, step in enumerate(job_steps(workflows, job)):
            if step_matches(workflows, step, matcher):
                found.append(Location(job_id, index))
    return found


def precedes(wf: Workflow, first: Location, then: Location) -> bool:
    """Whether `then` runs only after `first` has passed."""
    if first.job == then.job:
        return first.step < then.step
    return first.job in transitive_needs(wf, then.job)
