"""The statistical canary judge (judge/, docs/judge.md) and the environment files.

The chart's `analysis.judge` asks the judge, on every canary step, with a URL and
thresholds; the validate tier asks it about the live environment with the `judge:` section
of environments/<env>.yaml. Two gates that must agree: the rendered judge metric (its `web`
provider's URL and JSON body), else the chart's values for an environment whose analysis
keeps the judge off, against the environment file.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from policies.analysis import duration_seconds, metrics_of, templates_in_use
from policies.model import Obj, Violation, get_path
from policies.registry import REQUIRED, Params, check
from policies.sources import Repo
from policies.trees import merge


def _judge_metrics(bundle: Any, path: str) -> Iterator[tuple[Obj, int, dict[str, Any]]]:
    """(template, metric index, web provider) of every judge metric a Rollout runs: a `web`
    metric whose URL ends with the judge's API path."""
    for template, args, ref in templates_in_use(bundle):
        if ref is None:
            continue
        for metric in metrics_of(template, args):
            web = get_path(metric.data, ("provider", "web"))
            if isinstance(web, dict) and str(web.get("url", "")).rstrip("/").endswith(path):
                yield template, metric.index, web


def _same(env_value: Any, chart_value: Any, key: str) -> bool:
    if key == "window":
        return duration_seconds(env_value) == duration_seconds(chart_value)
    if key == "url":
        return str(env_value).rstrip("/") == str(chart_value or "").rstrip("/")
    if isinstance(env_value, (int, float)) and isinstance(chart_value, (int, float)):
        return float(env_value) == float(chart_value)
    return bool(env_value == chart_value)


def _differences(
    section: Mapping[str, Any], chart: Mapping[str, Any], url: Any, fields: Mapping[str, str]
) -> Iterator[str]:
    """`env key = X, the chart's Y` for every key the environment sets that the chart's
    request (or values) holds otherwise."""
    if not _same(section.get("url"), url, "url"):
        yield f"url = {section.get('url')!r}, the chart's {url!r}"
    for env_key, chart_key in fields.items():
        wanted = get_path(section, env_key.split("."))
        if wanted is None:
            continue
        held = get_path(chart, chart_key.split("."))
        if not _same(wanted, held, env_key):
            yield f"{env_key} = {wanted!r}, the chart's {chart_key} {held!r}"


@check("matches-environment", "repo", api_path="/v1/judge", fields=REQUIRED)
def matches_environment(repo: Repo, params: Params) -> Iterator[Violation]:
    """A judge in an environment's canary analysis needs the environment file's `judge:`
    section (the validate tier's), with the same URL and thresholds; where the analysis
    keeps the judge off, the chart's values for it must still match the section."""
    api_path, fields = params["api_path"], params["fields"]
    for bundle in repo.bundles:
        env = bundle.env or ""
        data = repo.environments.get(env)
        if not isinstance(data, dict):
            continue
        section = data.get("judge")
        where = f"environments/{env}.yaml"
        used = list(_judge_metrics(bundle, api_path))
        for template, index, web in used:
            if not isinstance(section, dict):
                yield template.violation(
                    f"its canary analysis asks the judge at {web.get('url')} ({bundle.name}), "
                    f"but {where} has no judge: section (the validate tier's)",
                    path=("spec", "metrics", index, "provider", "web", "url"),
                    fix=f"add judge: (url and thresholds of analysis.judge) to {where}",
                )
                continue
            url = str(web.get("url", "")).rstrip("/").removesuffix(api_path)
            body = web.get("jsonBody")
            body = body if isinstance(body, dict) else {}
            for difference in _differences(section, body, url, fields):
                yield template.violation(
                    f"the judge's request ({bundle.name}) differs from {where}: {difference}",
                    path=("spec", "metrics", index, "provider", "web"),
                    fix=f"use the same judge URL and thresholds in analysis.judge and {where}",
                )
        if used or not isinstance(section, dict) or repo.chart is None:
            continue
        values_file = repo.chart.values_files.get(env)
        values = merge(repo.chart.values, values_file.data if values_file else {})
        judge = get_path(values, ("analysis", "judge"), {})
        for difference in _differences(section, judge, judge.get("url"), fields):
            yield Violation(
                f"environment {env}",
                f"judge: differs from the chart's analysis.judge (off in its analysis): "
                f"{difference}",
                file=where,
                path=("judge",),
                fix=f"use the same judge URL and thresholds in analysis.judge and {where}",
            )
