"""GitHub Actions structure: the pipeline's stages and gates, pinning, permissions, OIDC.

actionlint and zizmor run as their own tests; these rules check what only this project
defines: which stages exist and in which order, the gates' thresholds, where production
deploys go through, and that the CD pipeline runs the validate tier. Stages are found by
`policies/workflows.py`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from policies.model import Violation
from policies.registry import REQUIRED, Params, check
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


def _trivy_steps(workflows: WorkflowSet, wf: Workflow) -> Iterator[tuple[str, int, dict[str, Any]]]:
    """(job, step, {severity, exit-code, format}) of every Trivy scan in the workflow."""
    for job_id, job in wf.jobs.items():
        for index, step in enumerate(steps_of(job)):
            uses = str(step.get("uses") or "")
            run = workflows.commands(step) if step.get("run") else ""
            if "aquasecurity/trivy-action" in uses:
                inputs = step.get("with") or {}
                yield (
                    job_id,
                    index,
                    {
                        "severity": inputs.get("severity"),
                        "exit-code": inputs.get("exit-code"),
                        "format": inputs.get("format"),
                    },
                )
            elif re.search(r"\btrivy\s+(image|fs|rootfs|repo)\b", run):
                sev = re.search(r"--severity[= ]([A-Z,]+)", run)
                code = re.search(r"--exit-code[= ](\d+)", run)
                fmt = re.search(r"--format[= ](\w+)", run)
                yield (
                    job_id,
                    index,
                    {
                        "severity": sev.group(1) if sev else None,
                        "exit-code": code.group(1) if code else None,
                        "format": fmt.group(1) if fmt else None,
                    },
                )


@check("trivy-gate", "workflows", file=REQUIRED, severities=["CRITICAL", "HIGH"])
def trivy_gate(workflows: WorkflowSet, params: Params) -> Iterator[Violation]:
    """A Trivy step gates the build: exit-code 1 on CRITICAL,HIGH. trivy-action only reports
    unless exit-code is set, and its severity defaults to every level. Report-only scans
    (e.g. a SARIF upload with exit-code 0) are fine next to a gate."""
    want = set(params["severities"])
    for wf in _file(workflows, params):
        scans = list(_trivy_steps(workflows, wf))
        if not scans:
            yield wf.violation(
                "runs no Trivy scan", fix="scan the built image with aquasecurity/trivy-action"
            )
            continue
        gates = [(job, step, s) for job, step, s in scans if str(s["exit-code"]) == "1"]
        if not gates:
            for job, step, s in scans:
                yield wf.violation(
                    f"Trivy exit-code is {s['exit-code'] or 'not set'}, so findings never fail "
                    "the build",
                    job=job,
                    step=step,
                    fix="set exit-code: '1' on the scan that gates the build",
                )
        for job, step, s in gates:
            severity = s["severity"]
            levels = {x.strip().upper() for x in str(severity or "").split(",") if x.strip()}
            if not severity or not want <= levels:
                yield wf.violation(
                    f"the Trivy gate's severity is {severity or 'not set (all levels)'}, not "
                    f"{','.join(params['severities'])}",
                    job=job,
                    step=step,
                    fix=f"set severity: {','.join(params['severities'])}",
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
