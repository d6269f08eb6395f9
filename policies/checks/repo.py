"""Rules that compare files with each other: what one file writes, another must read."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from policies.analysis import strategy
from policies.checks.argocd import applications
from policies.checks.images import split_image
from policies.checks.workflows import find_stage
from policies.model import Obj, Violation, get_path
from policies.registry import REQUIRED, check
from policies.sources import Repo

Params = Mapping[str, Any]


def diff(a: Any, b: Any, path: str = "", limit: int = 5, there: str = "in the chart") -> list[str]:
    """Up to `limit` human-readable differences between two YAML trees."""
    out: list[str] = []

    def walk(x: Any, y: Any, where: str) -> None:
        if len(out) >= limit:
            return
        if isinstance(x, dict) and isinstance(y, dict):
            for key in sorted(set(x) | set(y), key=str):
                walk(x.get(key), y.get(key), f"{where}.{key}" if where else str(key))
        elif isinstance(x, list) and isinstance(y, list) and len(x) == len(y):
            for i, (p, q) in enumerate(zip(x, y, strict=True)):
                walk(p, q, f"{where}[{i}]")
        elif x != y and not (_number(x) and _number(y) and float(x) == float(y)):
            out.append(f"{where or '.'}: {_short(x)} here, {_short(y)} {there}")

    walk(a, b, path)
    return out


def _number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _short(value: Any) -> str:
    text = "absent" if value is None else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _image_tags(rollout: Obj) -> set[str]:
    tags: set[str] = set()
    for container in rollout.get("spec", "template", "spec", "containers") or []:
        if isinstance(container, dict):
            _, tag, digest = split_image(str(container.get("image") or ""))
            tags.update(t for t in (tag, digest) if t)
    return tags


def _without_version(tree: Any, tags: set[str]) -> Any:
    """The tree with the image version masked: rollout.yaml documents the strategy, not a tag."""
    if isinstance(tree, dict):
        return {k: _without_version(v, tags) for k, v in tree.items()}
    if isinstance(tree, list):
        return [_without_version(v, tags) for v in tree]
    if isinstance(tree, str):
        for tag in tags:
            tree = tree.replace(tag, "<image version>")
    return tree


@check("rollout-matches-chart", "repo", file=REQUIRED, renders=REQUIRED, compare=REQUIRED)
def rollout_matches_chart(repo: Repo, params: Params) -> Iterator[Violation]:
    """argocd/rollout.yaml must not drift from what the chart renders: every object in it has
    a counterpart in a production rendering, equal up to the image version."""
    if repo.argocd is None:
        return
    mine = [
        o
        for o in repo.argocd.objects
        if o.file.endswith("/" + params["file"]) or o.file == params["file"]
    ]
    if not mine:
        yield Violation(
            subject=f"argocd/{params['file']}",
            message="does not exist",
            fix="add it or change the rule",
        )
        return
    renders = {kind: repo.rendered(name) for kind, name in params["renders"].items()}
    fix = "regenerate argocd/rollout.yaml from the chart (or change the chart)"
    for obj in mine:
        if obj.kind == "Rollout":
            kind, _ = strategy(obj)
            render = renders.get(kind or "")
            theirs = (
                [o for o in render.of_kind("Rollout") if strategy(o)[0] == kind] if render else []
            )
            fields = [tuple(f.split(".")) for f in params["compare"]]
        else:
            candidates = [r.find(obj.kind, obj.name) for r in renders.values() if r is not None]
            theirs = [c for c in candidates if c is not None]
            fields = [("spec",)]
        if not theirs:
            names = ", ".join(sorted(b.name for b in renders.values() if b)) or "none"
            yield obj.violation(f"has no counterpart in the chart's renderings ({names})", fix=fix)
            continue
        counterpart = theirs[0]
        for field in fields:
            here = _without_version(obj.get(*field), _image_tags(obj))
            there = _without_version(counterpart.get(*field), _image_tags(counterpart))
            for problem in diff(here, there, ".".join(field)):
                yield obj.violation(
                    f"differs from the chart's {counterpart.kind}/{counterpart.name}: {problem}",
                    path=field,
                    fix=fix,
                )


@check("value-files-exist", "repo")
def value_files_exist(repo: Repo, params: Params) -> Iterator[Violation]:
    if repo.argocd is None:
        return
    for view in applications(repo.argocd):
        for path, source in view.sources():
            chart_path = str(source.get("path") or "")
            if not chart_path or "{{" in chart_path:
                continue
            if not repo.exists(chart_path):
                yield view.violation(
                    f"source path {chart_path!r} does not exist in the repository", (*path, "path")
                )
                continue
            for index, value_file in enumerate((source.get("helm") or {}).get("valueFiles") or []):
                value_file = str(value_file)
                if "{{" in value_file or value_file.startswith("$"):
                    continue
                if not repo.exists(f"{chart_path.rstrip('/')}/{value_file}"):
                    yield view.violation(
                        f"helm valueFile {value_file!r} does not exist under {chart_path}",
                        (*path, "helm", "valueFiles", index),
                    )


_YQ_PATH = re.compile(r"(?<![\w$})\]])\.((?:[A-Za-z_][\w-]*)(?:\.[A-Za-z_][\w-]*)+)\s*\|?=(?!=)")


def _has_key(values: Any, dotted: str) -> bool:
    node = values
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


@check(
    "gitops-image-key", "repo", key="image.tag", ci_file=REQUIRED, update=REQUIRED, writers=REQUIRED
)
def gitops_image_key(repo: Repo, params: Params) -> Iterator[Violation]:
    """CI's GitOps update, the rollback script and the chart agree on one image key."""
    key = params["key"]
    ci = repo.workflows.get(params["ci_file"]) if repo.workflows else None
    if ci is not None and repo.workflows and not find_stage(repo.workflows, ci, params["update"]):
        yield ci.violation(
            "has no GitOps update step that writes the image tag",
            fix=f"add a step that writes .{key} of helm/values-<env>.yaml and pushes",
        )
    for env, data in sorted(repo.environments.items()):
        gitops = data.get("gitops") if isinstance(data, dict) else None
        if not isinstance(gitops, dict):
            continue
        where = f"environments/{env}.yaml"
        written = gitops.get("image_tag_key")
        if written != key:
            yield Violation(
                f"environment {env}",
                f"gitops.image_tag_key is {written!r}, but the chart reads {key}",
                file=where,
                path=("gitops", "image_tag_key"),
                fix=f"set gitops.image_tag_key: {key}",
            )
        values_file = str(gitops.get("values_file") or "")
        if values_file and not repo.exists(values_file):
            yield Violation(
                f"environment {env}",
                f"gitops.values_file {values_file} does not exist",
                file=where,
                path=("gitops", "values_file"),
                fix="point it at helm/values-<env>.yaml",
            )
    for name in params["writers"]:
        script = repo.script(name)
        if script is None:
            continue
        for other in sorted({m.group(1) for m in _YQ_PATH.finditer(script.text)} - {key}):
            yield script.violation(
                f"writes .{other}, but the chart reads .{key}", fix=f"write .{key}"
            )
    chart = repo.chart
    if chart is None:
        return
    if not _has_key(chart.values, key):
        yield Violation(
            f"chart {chart.path}",
            f"values.yaml has no {key}",
            file=f"{chart.path}/values.yaml",
            fix=f"declare {key} in values.yaml",
        )
    if not any(f".Values.{key}" in text for text in chart.templates.values()):
        yield Violation(
            f"chart {chart.path}",
            f"no template reads .Values.{key}",
            file=f"{chart.path}/templates",
            fix=f"build the image reference from .Values.{key}",
        )
    for env, env_values in chart.values_files.items():
        if not _has_key(env_values.data, key):
            yield Violation(
                f"chart {chart.path}",
                f"{env_values.file} ({env}) does not set {key}",
                file=env_values.file,
                line=1,
                fix=f"set {key} in {env_values.file}: each environment's tag lives there",
            )


@check("thresholds-match-environment", "repo", keys=REQUIRED, metrics=REQUIRED)
def thresholds_match_environment(repo: Repo, params: Params) -> Iterator[Violation]:
    """The canary's analysis and the validate tier (which reads environments/<env>.yaml) must
    judge the same SLO: a canary that passes what the post-deploy check fails, or the other
    way round, is a gate that disagrees with itself."""
    from policies.analysis import metrics_of, templates_in_use
    from policies.expr import Phase

    for bundle in repo.bundles:
        env = bundle.env
        data = repo.environments.get(env or "")
        if not bundle.values_files or not data:
            continue
        for template, args, ref in templates_in_use(bundle):
            if ref is None:  # not run by any Rollout of this environment
                continue
            for metric in metrics_of(template, args):
                kind = next(
                    (k for k, m in params["metrics"].items() if m in (metric.query or "")), None
                )
                key = params["keys"][kind] if kind else ""
                limit = get_path(data, key.split(".")) if kind else None
                if kind is None or not isinstance(limit, (int, float)):
                    continue
                inside, outside = _probes(kind, float(limit))
                if (
                    metric.phase(inside) is Phase.SUCCESSFUL
                    and metric.phase(outside) is Phase.FAILED
                ):
                    continue
                yield template.violation(
                    f'metric "{metric.name}" ({bundle.name}) does not gate at {key} = {limit} '
                    f"of environments/{env}.yaml (at {inside}: {metric.phase(inside)}, at "
                    f"{outside}: {metric.phase(outside)})",
                    path=(*metric.path, "successCondition"),
                    fix=f"use the same threshold in the chart's analysis values and in "
                    f"environments/{env}.yaml",
                )


def _probes(kind: str, limit: float) -> tuple[float, float]:
    """(a value that must pass, a value that must fail) at the environment's limit."""
    if kind == "success_rate":
        return limit, round(limit - 1e-4, 6)
    if kind == "latency":
        return round(limit - 1e-3, 6), limit
    return limit, limit + 1
