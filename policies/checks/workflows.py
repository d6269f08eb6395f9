"""GitHub Actions structure: the pipeline's stages and gates, pinning, permissions, OIDC.

actionlint and zizmor run as their own tests; these rules check what only this project
defines: which stages exist and in which order, the gates' thresholds, where production
deploys go through, and that the CD pipeline runs the validate tier. Stages are found by
`policies/workflows.py`.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import yaml

from policies.model import Violation
from policies.registry import REQUIRED, Params, check
from policies.sources import Repo
from policies.workflows import (
    Location,
    Workflow,
    WorkflowSet,
    find_stage,
    precedes,
    step_matches,
    steps_of,
)

SHA_PIN = re.compile(r"^[^@\s]+@[0-9a-f]{40}$")


DIGEST_PIN = re.compile(r"^docker://[^@\s]+@sha256:[0-9a-f]{64}$")


def _file(workflows: WorkflowSet, params: Params) -> Iterator[Workflow]:
    names = params.get("files") or [params.get("file")]
    for name in names:
        wf = workflows.get(str(name))
        if wf is not None:
            yield wf


def _missing_file(workflows: WorkflowSet, params: Params) -> Iterator[Violation]:
    names = params.get("files") or [params.get("file")]
    for name in names:
        if workflows.get(str(name)) is None:
            yield Violation(
                subject=f"workflows folder {workflows.folder}",
                message=f"has no {name}",
                file=workflows.folder,
                fix=f"add {workflows.folder}/{name} (or point the rule at the right file)",
            )


@check("ci-stages", "workflows", file=REQUIRED, stages=REQUIRED, order=REQUIRED)
def ci_stages(workflows: WorkflowSet, params: Params) -> Iterator[Violation]:
    """Every stage exists, and each runs only after the stages it depends on passed."""
    yield from _missing_file(workflows, params)
    for wf in _file(workflows, params):
        found = {
            name: find_stage(workflows, wf, matcher) for name, matcher in params["stages"].items()
        }
        for name, locations in found.items():
            if not locations:
                yield wf.violation(
                    f"has no {name} stage", fix=f"add a {name} step ({params['stages'][name]})"
                )
        for before, after in params["order"]:
            if not found.get(before) or not found.get(after):
                continue
            for then in found[after]:
                if not any(precedes(wf, first, then) for first in found[before]):
                    yield wf.violation(
                        f"the {after} stage can run before the {before} stage has passed",
                        job=then.job,
                        path=("needs",),
                        fix=f'add the {before} job to "needs" of job "{then.job}"',
                    )


@check("gitops-update-main-only", "workflows", file=REQUIRED, update=REQUIRED, conditions=REQUIRED)
def gitops_update_main_only(workflows: WorkflowSet, params: Params) -> Iterator[Violation]:
    """The tag written to git is what ArgoCD deploys: only from main pushes."""
    for wf in _file(workflows, params):
        for location in find_stage(workflows, wf, params["update"]):
            job = wf.jobs[location.job]
            condition = " ".join(
                str(x) for x in (job.get("if"), steps_of(job)[location.step].get("if")) if x
            )
            missing = [c for c in params["conditions"] if not re.search(c, condition)]
            if missing:
                yield wf.violation(
                    "the GitOps update is not limited to pushes to main (if: "
                    f"{condition or 'none'})",
                    job=location.job,
                    path=("if",),
                    fix="add if: github.event_name == 'push' && github.ref == 'refs/heads/main'",
                )


@check("coverage-gate", "workflows", file=REQUIRED, minimum=80)
def coverage_gate(workflows: WorkflowSet, params: Params) -> Iterator[Violation]:
    for wf in _file(workflows, params):
        gates: list[tuple[Location, float | None]] = []
        for job_id, job in wf.jobs.items():
            for index, step in enumerate(steps_of(job)):
                text = workflows.commands(step)
                if not re.search(r"--cov\b|coverage (run|report)", text):
                    continue
                match = re.search(r"(?:--cov-fail-under|--fail-under)[= ](\d+(?:\.\d+)?)", text)
                value = float(match.group(1)) if match else workflows.coverage_fail_under
                gates.append((Location(job_id, index), value))
        if not gates:
            yield wf.violation(
                "runs no coverage measurement",
                fix=f"run pytest --cov --cov-fail-under={params['minimum']}",
            )
        for location, value in gates:
            if value is None or value < params["minimum"]:
                shown = (
                    "has no fail-under"
                    if value is None
                    else f"is fail-under {value:g}, below {params['minimum']}"
                )
                yield wf.violation(
                    f"the coverage gate {shown}",
                    job=location.job,
                    step=location.step,
                    fix=f"use --cov-fail-under={params['minimum']}",
                )


@dataclass(frozen=True)
class TrivyScan:
    """One Trivy scan step, as far as the gate rules care."""

    job: str
    step: int
    severity: str | None
    exit_code: str | None
    ignore_unfixed: bool
    scan_type: str  # image, fs, repo, rootfs, config
    image: str  # what an image scan reads: image-ref, or the --input archive
    ignorefile: str | None


def _truthy(value: Any) -> bool:
    return str(value).strip().lower() == "true"


def _flag(run: str, name: str) -> str | None:
    match = re.search(rf"--{name}[= ](\S+)", run)
    return match.group(1).strip("'\"") if match else None


def trivy_scans(workflows: WorkflowSet, wf: Workflow) -> Iterator[TrivyScan]:
    """Every Trivy scan of the workflow: aquasecurity/trivy-action steps and `trivy` commands."""
    for job_id, job in wf.jobs.items():
        for index, step in enumerate(steps_of(job)):
            uses = str(step.get("uses") or "")
            run = workflows.commands(step) if step.get("run") else ""
            env = step.get("env") or {}
            if "aquasecurity/trivy-action" in uses:
                inputs = step.get("with") or {}
                yield TrivyScan(
                    job_id,
                    index,
                    inputs.get("severity"),
                    None if inputs.get("exit-code") is None else str(inputs["exit-code"]),
                    _truthy(inputs.get("ignore-unfixed")),
                    str(inputs.get("scan-type") or "image"),
                    str(inputs.get("image-ref") or inputs.get("input") or ""),
                    env.get("TRIVY_IGNOREFILE") or inputs.get("trivyignores"),
                )
            elif match := re.search(r"\btrivy\s+(image|fs|rootfs|repo|config)\b(.*)", run):
                args = match.group(2)
                target = [w for w in args.split() if not w.startswith("-")]
                yield TrivyScan(
                    job_id,
                    index,
                    _flag(args, "severity"),
                    _flag(args, "exit-code"),
                    "--ignore-unfixed" in args,
                    match.group(1),
                    _flag(args, "input") or (target[-1] if target else ""),
                    _flag(args, "ignorefile") or env.get("TRIVY_IGNOREFILE"),
                )


@check("trivy-gate", "workflows", file=REQUIRED, severities=["CRITICAL", "HIGH"], image=None)
def trivy_gate(workflows: WorkflowSet, params: Params) -> Iterator[Violation]:
    """A Trivy step gates the job: exit-code 1 on the rule's severities, fixed or not, on the
    image the workflow builds or deploys. trivy-action only reports unless exit-code is set,
    its severity defaults to every level, and ignore-unfixed lets every CVE without a fix
    through whatever its severity. Report-only scans (exit-code 0) are fine next to a gate."""
    want = set(params["severities"])
    shown = ",".join(params["severities"])
    for wf in _file(workflows, params):
        scans = list(trivy_scans(workflows, wf))
        if not scans:
            yield wf.violation(
                "runs no Trivy scan", fix="scan the image with aquasecurity/trivy-action"
            )
            continue
        gates = [scan for scan in scans if str(scan.exit_code) == "1"]
        if not gates:
            for scan in scans:
                yield wf.violation(
                    f"Trivy exit-code is {scan.exit_code or 'not set'}, so findings never fail "
                    "the build",
                    job=scan.job,
                    step=scan.step,
                    fix="set exit-code: '1' on the scan that gates the job",
                )
        for scan in gates:
            levels = {x.strip().upper() for x in str(scan.severity or "").split(",") if x.strip()}
            if not scan.severity or not want <= levels:
                yield wf.violation(
                    f"the Trivy gate's severity is {scan.severity or 'not set (all levels)'}, "
                    f"not {shown}",
                    job=scan.job,
                    step=scan.step,
                    fix=f"set severity: {shown}",
                )
            if scan.ignore_unfixed:
                yield wf.violation(
                    f"the Trivy gate ignores unfixed vulnerabilities, so a {shown} finding "
                    "without a fix passes silently",
                    job=scan.job,
                    step=scan.step,
                    fix="remove ignore-unfixed; accept a finding only through a reviewed, "
                    "expiring entry in .trivyignore.yaml",
                )
            if scan.scan_type != "image" or not scan.image:
                yield wf.violation(
                    f"the Trivy gate scans {scan.scan_type} {scan.image!r}, not an image",
                    job=scan.job,
                    step=scan.step,
                    fix="scan the image (image-ref, or input: the archive the build wrote)",
                )
            elif params["image"] and not re.search(params["image"], scan.image):
                yield wf.violation(
                    f"the Trivy gate scans {scan.image!r}, not the image this workflow "
                    f"builds or deploys (/{params['image']}/)",
                    job=scan.job,
                    step=scan.step,
                    fix="scan the image the job built (or the tag it deploys)",
                )


@check("actions-pinned", "workflows")
def actions_pinned(workflows: WorkflowSet, params: Params) -> Iterator[Violation]:
    for wf in workflows.workflows:
        for job_id, job in wf.jobs.items():
            if job.get("uses"):
                ref = str(job["uses"])
                if not ref.startswith("./") and not SHA_PIN.match(ref):
                    yield wf.violation(
                        f"calls {ref} by a movable ref",
                        job=job_id,
                        path=("uses",),
                        fix="pin the reusable workflow by full commit SHA",
                    )
            for index, step in enumerate(steps_of(job)):
                ref = str(step.get("uses") or "")
                if not ref or ref.startswith("./"):
                    continue
                if ref.startswith("docker://"):
                    if not DIGEST_PIN.match(ref):
                        yield wf.violation(
                            f"uses {ref} without a digest",
                            job=job_id,
                            step=index,
                            path=("uses",),
                            fix="pin the image by @sha256 digest",
                        )
                elif not SHA_PIN.match(ref):
                    yield wf.violation(
                        f"uses {ref}, not pinned by commit SHA",
                        job=job_id,
                        step=index,
                        path=("uses",),
                        fix=(
                            f"pin it: {ref.split('@')[0]}@<40-hex commit SHA>  # "
                            f"{ref.split('@')[-1]}"
                        ),
                    )


def _scopes(value: Any) -> dict[str, str] | str | None:
    if isinstance(value, dict):
        return {str(k): str(v) for k, v in value.items()}
    return None if value is None else str(value)


@check("workflows-least-privilege", "workflows")
def workflows_least_privilege(workflows: WorkflowSet, params: Params) -> Iterator[Violation]:
    """Scorecard Token-Permissions: read-only at the top, writes granted per job."""
    for wf in workflows.workflows:
        top = _scopes(wf.data.get("permissions"))
        if top is None:
            yield wf.violation(
                "has no top-level permissions (the token defaults to the repository setting)",
                path=("permissions",),
                fix="add top-level permissions: contents: read",
            )
        elif top == "write-all" or (
            isinstance(top, dict) and any(v == "write" for v in top.values())
        ):
            writes = (
                top
                if isinstance(top, str)
                else ", ".join(k for k, v in top.items() if v == "write")
            )
            yield wf.violation(
                f"grants {writes} write at the top level",
                path=("permissions",),
                fix="keep top-level permissions read-only; grant writes on the jobs that need them",
            )
        for job_id, job in wf.jobs.items():
            if _scopes(job.get("permissions")) == "write-all":
                yield wf.violation(
                    "grants write-all",
                    job=job_id,
                    path=("permissions",),
                    fix="grant only the scopes the job needs",
                )


STATIC_KEYS = re.compile(r"secrets\.(AWS_ACCESS_KEY_ID|AWS_SECRET_ACCESS_KEY|AWS_SESSION_TOKEN)\b")


@check("oidc", "workflows", login_actions=["aws-actions/configure-aws-credentials"])
def oidc(workflows: WorkflowSet, params: Params) -> Iterator[Violation]:
    for wf in workflows.workflows:
        for job_id, job in wf.jobs.items():
            perms = _scopes(job.get("permissions"))
            if perms is None:
                perms = _scopes(wf.data.get("permissions"))
            for index, step in enumerate(steps_of(job)):
                uses = str(step.get("uses") or "")
                inputs = step.get("with") or {}
                text = str(step)
                if STATIC_KEYS.search(text) or "aws-access-key-id" in inputs:
                    yield wf.violation(
                        "authenticates to AWS with static access keys",
                        job=job_id,
                        step=index,
                        fix=(
                            "use OIDC: role-to-assume with permissions id-token: write, and "
                            "delete the key secrets"
                        ),
                    )
                if any(uses.startswith(a) for a in params["login_actions"]):
                    if not inputs.get("role-to-assume"):
                        yield wf.violation(
                            "logs in to AWS without role-to-assume", job=job_id, step=index
                        )
                    has_token = perms == "write-all" or (
                        isinstance(perms, dict) and perms.get("id-token") == "write"
                    )
                    if not has_token:
                        yield wf.violation(
                            "uses OIDC but the job lacks permissions id-token: write",
                            job=job_id,
                            path=("permissions",),
                            fix="add permissions: id-token: write to the job",
                        )


def _environment(job: dict[str, Any]) -> str | None:
    env = job.get("environment")
    if isinstance(env, dict):
        env = env.get("name")
    return None if env is None else str(env)


@check("protected-production", "workflows", files=REQUIRED, deploy=REQUIRED, production=REQUIRED)
def protected_production(workflows: WorkflowSet, params: Params) -> Iterator[Violation]:
    """Deploying jobs run in a GitHub environment (where reviewers protect production)."""
    for wf in _file(workflows, params):
        for job_id, job in wf.jobs.items():
            deploys = any(
                step_matches(workflows, s, {"run": params["deploy"]}) for s in steps_of(job)
            )
            named_prod = re.search(
                params["production"], f"{job_id} {job.get('name') or ''}", re.IGNORECASE
            )
            if not deploys and not named_prod:
                continue
            env = _environment(job)
            if env is None:
                yield wf.violation(
                    "deploys without a GitHub environment, so no protection rule can stop it",
                    job=job_id,
                    path=("environment",),
                    fix="set environment: production (or ${{ inputs.environment }}) on the job",
                )
            elif (
                named_prod
                and "${{" not in env
                and not re.search(params["production"], env, re.IGNORECASE)
            ):
                yield wf.violation(
                    f"deploys production in environment {env!r}",
                    job=job_id,
                    path=("environment",),
                    fix="set environment: production",
                )


@check("cd-runs-validate", "workflows", file=REQUIRED, command=REQUIRED, after=None, what=REQUIRED)
def cd_runs_validate(workflows: WorkflowSet, params: Params) -> Iterator[Violation]:
    """A workflow runs a required command (e.g. the validate tier), after a given stage."""
    yield from _missing_file(workflows, params)
    for wf in _file(workflows, params):
        found = find_stage(workflows, wf, {"run": params["command"]})
        if not found:
            yield wf.violation(
                f"does not run {params['what']}", fix=f"add a step that runs {params['what']}"
            )
            continue
        if params["after"]:
            before = find_stage(workflows, wf, params["after"])
            if before and not any(precedes(wf, b, f) for b in before for f in found):
                yield wf.violation(
                    f"runs {params['what']} before the deploy it should check",
                    job=found[0].job,
                    path=("needs",),
                )


@check("job-timeouts", "workflows", maximum=120)
def job_timeouts(workflows: WorkflowSet, params: Params) -> Iterator[Violation]:
    for wf in workflows.workflows:
        for job_id, job in wf.jobs.items():
            if job.get("uses"):
                continue
            value = job.get("timeout-minutes")
            if value is None:
                yield wf.violation(
                    "has no timeout-minutes (the default is 360)",
                    job=job_id,
                    fix="set timeout-minutes on the job",
                )
            elif isinstance(value, int) and value > params["maximum"]:
                yield wf.violation(
                    f"timeout-minutes {value} exceeds {params['maximum']}",
                    job=job_id,
                    path=("timeout-minutes",),
                )


@check("concurrency", "workflows", deploy_files=REQUIRED)
def concurrency(workflows: WorkflowSet, params: Params) -> Iterator[Violation]:
    for wf in workflows.workflows:
        conc = wf.data.get("concurrency")
        if not conc:
            yield wf.violation(
                "has no concurrency group",
                path=("concurrency",),
                fix="add concurrency: {group: <workflow>-${{ github.ref }}}",
            )
            continue
        cancels = isinstance(conc, dict) and conc.get("cancel-in-progress") not in (
            None,
            False,
            "false",
        )
        if wf.name in params["deploy_files"] and cancels:
            yield wf.violation(
                "cancels a running deployment when another starts (cancel-in-progress)",
                path=("concurrency", "cancel-in-progress"),
                fix="set cancel-in-progress: false so deployments queue instead",
            )


_IGNORE_SECTIONS = ("vulnerabilities", "misconfigurations", "secrets", "licenses")


def _ignore_files(repo: Repo) -> Iterator[tuple[str, str]]:
    """(ignore file, who reads it) for every file Trivy is told to read, and its default."""
    seen: set[str] = set()
    if repo.workflows is not None:
        for wf in repo.workflows.workflows:
            for scan in trivy_scans(repo.workflows, wf):
                if scan.ignorefile and scan.ignorefile not in seen:
                    seen.add(scan.ignorefile)
                    yield scan.ignorefile, f"{wf.file} job {scan.job}"
    for default in (".trivyignore", ".trivyignore.yaml"):
        if default not in seen and repo.exists(default):
            yield default, "Trivy by default"


@check("trivy-ignores-reviewed", "repo")
def trivy_ignores_reviewed(repo: Repo, params: Params) -> Iterator[Violation]:
    """Every accepted finding is reviewed: an id, a reason (statement) and an expiry date that
    has not passed, in Trivy's YAML ignore file. The plain .trivyignore cannot say why or
    until when, and Trivy reads it silently from the working directory."""
    today = dt.date.today()
    for name, reader in _ignore_files(repo):
        text = repo.read(name)
        if text is None:
            yield Violation(name, f"is named by {reader} but does not exist", file=name)
            continue
        if not name.endswith((".yaml", ".yml")):
            yield Violation(
                name,
                f"is a plain Trivy ignore file (read by {reader}): its entries carry no reason",
                file=name,
                fix="move each entry to .trivyignore.yaml with statement: and expired_at:",
            )
            continue
        try:
            data = yaml.safe_load(text) or {}
        except yaml.YAMLError as err:
            yield Violation(name, f"is not valid YAML: {err}", file=name)
            continue
        sections = data if isinstance(data, dict) else {}
        for section in _IGNORE_SECTIONS:
            for index, item in enumerate(sections.get(section) or []):
                entry = item if isinstance(item, dict) else {}
                subject = f"{name} {section}[{index}] {entry.get('id', '(no id)')}"
                expiry = entry.get("expired_at")
                if not entry.get("id"):
                    yield Violation(subject, "has no id", file=name)
                if not str(entry.get("statement") or "").strip():
                    yield Violation(subject, "gives no reason (statement:)", file=name)
                if not isinstance(expiry, dt.date):
                    yield Violation(subject, "has no expiry (expired_at: YYYY-MM-DD)", file=name)
                elif expiry < today:
                    yield Violation(
                        subject,
                        f"expired on {expiry.isoformat()}: the finding fails the gate again",
                        file=name,
                    )
