"""Analysis templates and what they measure: well-formed, able to fail (an empty or NaN
result fails), referenced correctly, querying real series, and gating at the SLOs of the
seed and of each environment file. Conditions are evaluated, not pattern-matched
by Argo Rollouts' own code (`policies/conditions.py`); the reading is `policies/analysis.py`.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Iterator
from typing import Any

from policies.analysis import (
    CONDITION_PROVIDERS,
    PROVIDERS,
    QUERY_FIELDS,
    SELF_JUDGING_PROVIDERS,
    Metric,
    analysis_refs,
    find_template,
    merged_args,
    metrics_of,
    placeholders,
    template_args,
    templates_in_use,
)
from policies.conditions import Phase
from policies.model import Bundle, Obj, Severity, Violation, as_list, get_path
from policies.promql import PromQLError, parse
from policies.registry import REQUIRED, Params, check
from policies.sources import Repo
from policies.workloads import pod_templates


@check("templates-exist", "manifests")
def templates_exist(bundle: Bundle, params: Params) -> Iterator[Violation]:
    for rollout in bundle.of_kind("Rollout"):
        for ref in analysis_refs(rollout):
            if not ref.templates:
                yield rollout.violation(f"{ref.label} names no templates", path=ref.path)
            declared: set[str] = set()
            for item in ref.templates:
                name = item.get("templateName")
                template = find_template(item, rollout, bundle)
                if template is None:
                    kind = (
                        "ClusterAnalysisTemplate"
                        if item.get("clusterScope")
                        else "AnalysisTemplate"
                    )
                    known = ", ".join(sorted(o.name for o in bundle.of_kind(kind))) or "none"
                    cluster = bool(item.get("clusterScope"))
                    where = (
                        f"in this repository (found: {known}); a ClusterAnalysisTemplate is "
                        "often installed apart, so its args are not checked"
                        if cluster
                        else f"rendered (rendered: {known})"
                    )
                    yield rollout.violation(
                        f'{ref.label} references {kind} "{name}", which is not {where}',
                        path=ref.path,
                        severity=Severity.WARNING if cluster else None,
                    )
                    continue
                declared |= {str(a.get("name")) for a in template_args(template)}
                for arg_name, value in merged_args(template, ref.args).items():
                    if value is None:
                        yield rollout.violation(
                            f'{ref.label}: arg "{arg_name}" of {template.kind}/{template.name} '
                            "gets no value",
                            path=(*ref.path, "args"),
                            fix=(
                                f"pass {arg_name} in the analysis args or give it a default in the "
                                "template"
                            ),
                        )
            for arg in ref.args:
                passed = str(arg.get("name"))
                if ref.templates and declared and passed not in declared:
                    yield rollout.violation(
                        f'{ref.label}: arg "{passed}" is declared by no referenced template, so '
                        "the controller ignores it",
                        path=(*ref.path, "args"),
                        fix="fix the arg name or declare it in the template's spec.args",
                    )


@check("template-valid", "manifests")
def template_valid(bundle: Bundle, params: Params) -> Iterator[Violation]:
    for template in bundle.of_kind("AnalysisTemplate", "ClusterAnalysisTemplate"):
        yield from _template_problems(template)


def _template_problems(template: Obj) -> Iterator[Violation]:
    metrics = metrics_of(template)
    if not metrics:
        yield template.violation("has no metrics", path=("spec", "metrics"))
        return
    declared = {str(a.get("name")) for a in template_args(template)}
    for name in sorted(placeholders(template.get("spec", "metrics")) - declared):
        yield template.violation(
            f"uses {{{{args.{name}}}}} but does not declare arg {name}", path=("spec", "args")
        )
    names = [m.name for m in metrics]
    for name in sorted({n for n in names if names.count(n) > 1}):
        yield template.violation(f'metric name "{name}" is used twice', path=("spec", "metrics"))
    dry = {
        str(d.get("metricName"))
        for d in as_list(template.get("spec", "dryRun"))
        if isinstance(d, dict)
    }
    for metric in metrics:
        yield from _metric_problems(template, metric, dry)


def _metric_problems(template: Obj, metric: Metric, dry: set[str]) -> Iterator[Violation]:
    label = f'metric "{metric.name}"'
    provider_spec = metric.data.get("provider")
    providers = list(provider_spec) if isinstance(provider_spec, dict) else []
    provider_path = (*metric.path, "provider")
    if len(providers) != 1:
        yield template.violation(f"{label} has {len(providers)} providers", path=provider_path)
    name = metric.provider
    if name is not None and name not in PROVIDERS:
        yield template.violation(
            f"{label}: unknown provider {name!r}",
            path=provider_path,
            fix=f"use one of Argo Rollouts' providers: {', '.join(PROVIDERS)}",
        )
    if name in CONDITION_PROVIDERS and name != "web" and not metric.has_condition:
        yield template.violation(
            f"{label} has neither successCondition nor failureCondition, so every measurement "
            "succeeds",
            path=metric.path,
        )
    if name in SELF_JUDGING_PROVIDERS and metric.has_condition:
        decides = "the Job's exit" if name == "job" else "Kayenta's score against its threshold"
        yield template.violation(
            f"{label}: a {name} metric ignores successCondition and failureCondition ({decides} "
            "decides the measurement)",
            path=metric.path,
            fix="remove the conditions; judge inside the Job (exit non-zero to fail)"
            if name == "job"
            else "remove the conditions; set kayenta.threshold.pass and marginal",
            severity=Severity.WARNING,
        )
    if name == "plugin" and not metric.has_condition:
        yield template.violation(
            f"{label}: cannot judge whether this plugin metric can fail without a condition "
            "(the plugin decides)",
            path=metric.path,
            fix="check that the plugin fails a bad measurement, or add a successCondition",
            severity=Severity.WARNING,
        )
    for fields in [QUERY_FIELDS[name]] if name in QUERY_FIELDS else []:
        if not any(metric.provider_spec.get(f) for f in fields):
            yield template.violation(
                f"{label}: {name} provider has no {' or '.join(fields)}", path=provider_path
            )
    count = metric.integer("count")
    failure_limit = metric.integer("failureLimit") or 0
    success_limit = metric.integer("consecutiveSuccessLimit") or 0
    if count is not None and count < failure_limit + success_limit:
        yield template.violation(
            f"{label}: count {count} is below failureLimit + consecutiveSuccessLimit "
            f"({failure_limit + success_limit})",
            path=metric.path,
        )
    if count is not None and count > 1 and not metric.text("interval"):
        yield template.violation(f"{label}: count {count} needs an interval", path=metric.path)
    if failure_limit < 0 and failure_limit != -1:
        yield template.violation(
            f"{label}: failureLimit {failure_limit} is negative", path=metric.path
        )
    if metric.name in dry or "*" in dry:
        yield template.violation(
            f"{label} runs in dryRun, so its failures never abort a rollout",
            path=("spec", "dryRun"),
            fix="remove the metric from spec.dryRun",
        )


NO_DATA_FIX = (
    "guard the condition, e.g. successCondition: len(result) > 0 && !isNaN(result[0]) "
    "&& result[0] >= X"
)


_CONSEQUENCE = {
    Phase.SUCCESSFUL: "counts as success",
    Phase.INCONCLUSIVE: "is Inconclusive (the rollout pauses instead of aborting)",
    Phase.ERROR: "makes the condition error (Error phase, retried until consecutiveErrorLimit)",
}


@check("no-data-fails", "manifests")
def no_data_fails(bundle: Bundle, params: Params) -> Iterator[Violation]:
    """An empty vector (no traffic, wrong labels) or NaN (0/0) must fail the measurement.

    Prometheus results are probed exactly ([] and [NaN], or NaN for a scalar); a web metric's
    null (an endpoint with nothing to report) must not pass; job and kayenta metrics return
    no value to be empty; the other providers' empty results the tier cannot evaluate, and
    it says so as a warning."""
    for template, args, _ in templates_in_use(bundle):
        for metric in metrics_of(template, args):
            provider = metric.provider
            condition = (
                "successCondition" if metric.text("successCondition") else "failureCondition"
            )
            path = (*metric.path, condition)
            if provider == "prometheus" and metric.query is not None:
                for label, value in (("no data (empty result)", None), ("NaN", math.nan)):
                    if metric.scalar and value is None:
                        continue
                    phase = metric.phase(value)
                    if phase is not Phase.FAILED:
                        yield template.violation(
                            f'metric "{metric.name}": {label} {_CONSEQUENCE[phase]}',
                            path=path,
                            fix=NO_DATA_FIX,
                        )
            elif provider == "web" and metric.has_condition:
                phase = metric.value_phase(None)
                if phase in (Phase.SUCCESSFUL, Phase.INCONCLUSIVE):
                    yield template.violation(
                        f'metric "{metric.name}": a null value at its jsonPath '
                        f"{_CONSEQUENCE[phase]}",
                        path=path,
                        fix="judge with a successCondition (null then fails or errors), not "
                        "only a failureCondition",
                        severity=None if phase is Phase.SUCCESSFUL else Severity.WARNING,
                    )
            elif provider in CONDITION_PROVIDERS and provider != "web" and metric.has_condition:
                yield template.violation(
                    f'metric "{metric.name}": cannot judge what an empty {provider} result '
                    "does to its condition (the tier evaluates Prometheus and web results)",
                    path=path,
                    fix=f"check that the condition fails when {provider} returns no data",
                    severity=Severity.WARNING,
                )
            elif provider == "plugin" and metric.has_condition:
                yield template.violation(
                    f'metric "{metric.name}": cannot judge what an empty plugin result does '
                    "to its condition",
                    path=path,
                    fix="check that the condition fails when the plugin returns no data",
                    severity=Severity.WARNING,
                )


def _classify(metric: Metric, params: Params) -> str | None:
    query = metric.query or ""
    for kind in ("restarts", "latency", "success_rate"):
        if params[f"{kind}_metric"] in query:
            return kind
    return None


def _accepts(metric: Metric, value: float) -> bool:
    return metric.phase(value) is Phase.SUCCESSFUL


def _rejects(metric: Metric, value: float) -> bool:
    return metric.phase(value) is Phase.FAILED


def _threshold_problem(kind: str, metric: Metric, params: Params) -> str | None:
    if kind == "success_rate":
        rate = float(params["success_rate"])
        as_rate = (
            _accepts(metric, rate)
            and _accepts(metric, 1.0)
            and _rejects(metric, rate - 1e-4)
            and _rejects(metric, 0.5)
        )
        err = round(1 - rate, 6)
        as_errors = (
            _accepts(metric, err)
            and _accepts(metric, 0.0)
            and _rejects(metric, err + 1e-4)
            and _rejects(metric, 0.5)
        )
        if not (as_rate or as_errors):
            return f"does not pass exactly success rate >= {rate} (or error rate <= {err})"
    elif kind == "latency":
        limit = float(params["latency_seconds"])
        scale = 1000.0 if re.search(r"\*\s*1000\b", metric.query or "") else 1.0
        ok = _accepts(metric, (limit - 1e-3) * scale) and _accepts(metric, 0.01 * scale)
        if not (ok and _rejects(metric, limit * scale) and _rejects(metric, 2 * limit * scale)):
            return f"does not pass exactly p{float(params['quantile']) * 100:g} latency < {limit}s"
        info = _parse(metric)
        if info is not None and float(params["quantile"]) not in info.numbers:
            return f"does not compute the {params['quantile']} quantile"
    elif kind == "restarts" and not (
        _accepts(metric, 0.0) and _rejects(metric, 1.0) and _rejects(metric, 3.0)
    ):
        return "does not require exactly zero restarts"
    return None


def _parse(metric: Metric) -> Any:
    try:
        return parse(metric.query or "")
    except PromQLError:
        return None


@check(
    "thresholds",
    "manifests",
    success_rate=0.99,
    latency_seconds=0.5,
    quantile=0.99,
    success_rate_metric="http_requests_total",
    latency_metric="http_request_duration_seconds_bucket",
    restarts_metric="kube_pod_container_status_restarts_total",
)
def thresholds(bundle: Bundle, params: Params) -> Iterator[Violation]:
    """Each Rollout's analysis measures the seed's three SLOs with the seed's thresholds."""
    wanted = {"success_rate": "success rate", "latency": "p99 latency", "restarts": "restarts"}
    for rollout in bundle.of_kind("Rollout"):
        refs = analysis_refs(rollout)
        measured: set[str] = set()
        for ref in refs:
            for item in ref.templates:
                template = find_template(item, rollout, bundle)
                if template is None:
                    continue
                for metric in metrics_of(template, merged_args(template, ref.args)):
                    kind = _classify(metric, params)
                    if kind is None:
                        continue
                    measured.add(kind)
                    problem = _threshold_problem(kind, metric, params)
                    if problem:
                        yield template.violation(
                            f"{metric.ref_label()} (used by {rollout.ref} {ref.label}) {problem}",
                            path=(*metric.path, "successCondition"),
                            fix=f"measure {wanted[kind]} against the seed's threshold (success >= "
                            f"{params['success_rate']}, p99 < {params['latency_seconds']}s, 0 "
                            "restarts)",
                        )
        missing = [wanted[k] for k in wanted if k not in measured]
        if refs and missing:
            yield rollout.violation(
                f"analysis does not measure {', '.join(missing)}", path=("spec", "strategy")
            )


@check("metric-names", "manifests", external=REQUIRED, target_labels=REQUIRED)
def metric_names(bundle: Bundle, params: Params) -> Iterator[Violation]:
    exported = bundle.facts.service_metrics
    source = bundle.facts.service_metrics_source or "the service's code"
    external = set(params["external"])
    pod_labels = {re.sub(r"[^A-Za-z0-9_]", "_", k) for p in pod_templates(bundle) for k in p.labels}
    for template in bundle.of_kind("AnalysisTemplate", "ClusterAnalysisTemplate"):
        for metric in metrics_of(template):
            if metric.query is None:
                continue
            try:
                info = parse(metric.query)
            except PromQLError as err:
                yield template.violation(
                    f'metric "{metric.name}": query is not PromQL ({err})', path=metric.path
                )
                continue
            for selector in info.selectors:
                name = selector.metric
                if name is None or name in external:
                    continue
                if name not in exported:
                    close = difflib.get_close_matches(name, list(exported) + list(external), n=1)
                    yield template.violation(
                        f'metric "{metric.name}" queries {name}, which the service does not export '
                        f"(read from {source})",
                        path=(*metric.path, "provider", "prometheus", "query"),
                        fix=f"query {close[0]} (the closest exported name)"
                        if close
                        else "query a series the service exports (see docs/interfaces.md)",
                    )
                    continue
                allowed = exported[name].labels | set(params["target_labels"]) | pod_labels
                for label in sorted(set(selector.matchers) - allowed):
                    yield template.violation(
                        f'metric "{metric.name}" filters {name} on label "{label}", which it does '
                        f"not have (labels: {', '.join(sorted(exported[name].labels)) or 'none'})",
                        path=(*metric.path, "provider", "prometheus", "query"),
                        fix="filter on a label the series carries",
                    )
    if not exported and bundle.of_kind("AnalysisTemplate", "ClusterAnalysisTemplate"):
        yield Violation(
            subject=bundle.name,
            message=f"no exported metrics found in {source}",
            fix="point --service-dir at the service's Python package",
        )


@check("thresholds-match-environment", "repo", keys=REQUIRED, metrics=REQUIRED)
def thresholds_match_environment(repo: Repo, params: Params) -> Iterator[Violation]:
    """The canary's analysis and the validate tier (which reads environments/<env>.yaml) must
    judge the same SLO: a canary that passes what the post-deploy check fails, or the other
    way round, is a gate that disagrees with itself."""
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
