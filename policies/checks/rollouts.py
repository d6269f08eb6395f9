"""Argo Rollouts: the controller's own validation, what `kubectl argo rollouts lint` skips
(analysis templates and referenced objects), and this project's delivery contract."""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Iterator, Mapping
from typing import Any

from policies.analysis import (
    AnalysisRef,
    Metric,
    analysis_refs,
    duration_seconds,
    find_template,
    merged_args,
    metrics_of,
    placeholders,
    show_seconds,
    steps,
    strategy,
    template_args,
    templates_in_use,
)
from policies.checks.autoscaling import min_replicas
from policies.expr import Phase
from policies.model import Bundle, Obj, Violation
from policies.promql import PromQLError, parse
from policies.registry import REQUIRED, check
from policies.workloads import pod_templates, workload_ref_target

Params = Mapping[str, Any]
STEP_ACTIONS = (
    "setWeight",
    "pause",
    "analysis",
    "experiment",
    "setCanaryScale",
    "setHeaderRoute",
    "setMirrorRoute",
    "plugin",
)
ROUTED_ACTIONS = ("setCanaryScale", "setHeaderRoute", "setMirrorRoute")


@check("rollout-strategy", "manifests")
def rollout_strategy(bundle: Bundle, params: Params) -> Iterator[Violation]:
    for rollout in bundle.of_kind("Rollout"):
        declared = [
            k for k in ("canary", "blueGreen") if rollout.get("spec", "strategy", k) is not None
        ]
        if len(declared) != 1:
            shown = " and ".join(declared) or "neither canary nor blueGreen"
            yield rollout.violation(
                f"strategy declares {shown}",
                path=("spec", "strategy"),
                fix="declare exactly one of strategy.canary or strategy.blueGreen",
            )
        ref = rollout.get("spec", "workloadRef")
        if ref is None and not rollout.get("spec", "selector"):
            yield rollout.violation("has no spec.selector", path=("spec", "selector"))
        if ref is not None and workload_ref_target(rollout, bundle) is None:
            yield rollout.violation(
                f"workloadRef {ref.get('kind')}/{ref.get('name')} is not in the same manifests",
                path=("spec", "workloadRef"),
            )
        if ref is not None and rollout.get("spec", "template") is not None:
            yield rollout.violation("sets both workloadRef and template", path=("spec", "template"))


@check("rollout-services", "manifests")
def rollout_services(bundle: Bundle, params: Params) -> Iterator[Violation]:
    for rollout in bundle.of_kind("Rollout"):
        kind, strat = strategy(rollout)
        pairs = {
            "canary": ("stableService", "canaryService"),
            "blueGreen": ("activeService", "previewService"),
        }
        if kind is None:
            continue
        first, second = pairs[kind]
        names = {key: strat.get(key) for key in (first, second)}
        base = ("spec", "strategy", kind)
        if kind == "blueGreen" and not names[first]:
            yield rollout.violation("blueGreen.activeService is not set", path=base)
        if names[first] and names[first] == names[second]:
            yield rollout.violation(
                f"{first} and {second} are both {names[first]!r}",
                path=(*base, second),
                fix=f"use two Services for {first} and {second}",
            )
        for key, name in names.items():
            if name and bundle.find("Service", str(name)) is None:
                yield rollout.violation(f'{key} "{name}" is not rendered', path=(*base, key))
        if (
            kind == "canary"
            and strat.get("trafficRouting")
            and not (names[first] and names[second])
        ):
            yield rollout.violation(
                "trafficRouting needs both canaryService and stableService",
                path=(*base, "trafficRouting"),
            )


@check("rollout-progress", "manifests", require_abort=False)
def rollout_progress(bundle: Bundle, params: Params) -> Iterator[Violation]:
    for rollout in bundle.of_kind("Rollout"):
        deadline = rollout.get("spec", "progressDeadlineSeconds", default=600)
        ready = rollout.get("spec", "minReadySeconds", default=0)
        if isinstance(deadline, int) and isinstance(ready, int) and deadline <= ready:
            yield rollout.violation(
                f"progressDeadlineSeconds {deadline} is not above minReadySeconds {ready}",
                path=("spec", "progressDeadlineSeconds"),
            )
        kind, strat = strategy(rollout)
        if (
            kind == "canary"
            and str(strat.get("maxSurge", "25%")) in ("0", "0%")
            and str(strat.get("maxUnavailable", "25%")) in ("0", "0%")
        ):
            yield rollout.violation(
                "maxSurge and maxUnavailable are both 0", path=("spec", "strategy", "canary")
            )
        if params["require_abort"] and rollout.get("spec", "progressDeadlineAbort") is not True:
            yield rollout.violation(
                "progressDeadlineAbort is not true: a stuck canary keeps its traffic share forever",
                path=("spec", "progressDeadlineAbort"),
            )


@check("rollout-steps", "manifests")
def rollout_steps(bundle: Bundle, params: Params) -> Iterator[Violation]:
    for rollout in bundle.of_kind("Rollout"):
        routed = bool(rollout.get("spec", "strategy", "canary", "trafficRouting"))
        for index, step in enumerate(steps(rollout)):
            path = ("spec", "strategy", "canary", "steps", index)
            actions = [a for a in STEP_ACTIONS if a in step]
            if len(actions) != 1:
                yield rollout.violation(
                    f"steps[{index}] has {len(actions)} actions ({', '.join(actions) or 'none'})",
                    path=path,
                    fix="give every step exactly one of " + ", ".join(STEP_ACTIONS),
                )
            weight = step.get("setWeight")
            if "setWeight" in step and (not isinstance(weight, int) or not 0 <= weight <= 100):
                yield rollout.violation(
                    f"steps[{index}].setWeight {weight!r} is not within 0..100", path=path
                )
            pause = step.get("pause")
            if isinstance(pause, dict) and "duration" in pause:
                seconds = duration_seconds(pause["duration"])
                if seconds is None or seconds < 0:
                    yield rollout.violation(
                        f"steps[{index}].pause.duration {pause['duration']!r} is not a duration",
                        path=path,
                    )
            for action in ROUTED_ACTIONS:
                if action in step and not routed:
                    yield rollout.violation(
                        f"steps[{index}].{action} needs trafficRouting", path=path
                    )


@check("weights-achievable", "manifests")
def weights_achievable(bundle: Bundle, params: Params) -> Iterator[Violation]:
    """Without a traffic router, weight = canary pods / all pods: 5% needs 20 pods."""
    for rollout in bundle.of_kind("Rollout"):
        kind, strat = strategy(rollout)
        if kind != "canary" or strat.get("trafficRouting"):
            continue
        weights = [
            s["setWeight"]
            for s in steps(rollout)
            if isinstance(s.get("setWeight"), int) and 0 < s["setWeight"] < 100
        ]
        if not weights:
            continue
        replicas, source = min_replicas(rollout, bundle)
        needed = math.ceil(100 / min(weights))
        if replicas < needed:
            yield rollout.violation(
                f"setWeight {min(weights)} without trafficRouting needs >= {needed} pods, "
                f"it has {replicas} ({source}); the real canary share would be "
                f"{100 * max(1, math.ceil(replicas * min(weights) / 100)) / max(replicas, 1):.0f}%",
                path=("spec", "strategy", "canary"),
                values_key="rollouts.canary.trafficRouting",
            )


@check("analysis-refs", "manifests")
def analysis_refs_check(bundle: Bundle, params: Params) -> Iterator[Violation]:
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
                    yield rollout.violation(
                        f'{ref.label} references {kind} "{name}", which is not rendered '
                        f"(rendered: {known})",
                        path=ref.path,
                    )
                    continue
                declared |= {str(a.get("name")) for a in template_args(template)}
                for arg_name, value in merged_args(template, ref.args).items():
                    if value is None:
                        yield rollout.violation(
                            f'{ref.label}: arg "{arg_name}" of {template.kind}/{template.name} '
                            "gets no "
                            "value",
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
                        "the "
                        "controller ignores it",
                        path=(*ref.path, "args"),
                        fix="fix the arg name or declare it in the template's spec.args",
                    )


@check("analysis-template", "manifests")
def analysis_template(bundle: Bundle, params: Params) -> Iterator[Violation]:
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
        for d in template.get("spec", "dryRun") or []
        if isinstance(d, dict)
    }
    for metric in metrics:
        label = f'metric "{metric.name}"'
        providers = list((metric.data.get("provider") or {}).keys())
        if len(providers) != 1:
            yield template.violation(
                f"{label} has {len(providers)} providers", path=(*metric.path, "provider")
            )
        if not metric.text("successCondition") and not metric.text("failureCondition"):
            yield template.violation(
                f"{label} has neither successCondition nor failureCondition, so every measurement "
                "succeeds",
                path=metric.path,
            )
        count = _int(metric.text("count"))
        failure_limit = _int(metric.text("failureLimit")) or 0
        success_limit = _int(metric.text("consecutiveSuccessLimit")) or 0
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
        if "prometheus" in providers and not metric.query:
            yield template.violation(
                f"{label}: prometheus provider has no query", path=(*metric.path, "provider")
            )


def _int(text: str | None) -> int | None:
    if text is None:
        return None
    try:
        return int(text)
    except ValueError:
        return None


NO_DATA_FIX = (
    "guard the condition, e.g. successCondition: len(result) > 0 && !isNaN(result[0]) "
    "&& result[0] >= X"
)


@check("analysis-no-data", "manifests")
def analysis_no_data(bundle: Bundle, params: Params) -> Iterator[Violation]:
    """An empty vector (no traffic, wrong labels) or NaN (0/0) must fail the measurement."""
    for template, args, _ in templates_in_use(bundle):
        for metric in metrics_of(template, args):
            if metric.query is None:
                continue
            for label, value in (("no data (empty result)", None), ("NaN", math.nan)):
                if metric.scalar and value is None:
                    continue
                phase = metric.phase(value)
                if phase is not Phase.FAILED:
                    consequence = {
                        Phase.SUCCESSFUL: "counts as success",
                        Phase.INCONCLUSIVE: (
                            "is Inconclusive (the rollout pauses instead of aborting)"
                        ),
                        Phase.ERROR: (
                            "makes the condition error (Error phase, retried until "
                            "consecutiveErrorLimit)"
                        ),
                    }[phase]
                    yield template.violation(
                        f'metric "{metric.name}": {label} {consequence}',
                        path=(*metric.path, "successCondition"),
                        fix=NO_DATA_FIX,
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
    "analysis-thresholds",
    "manifests",
    success_rate=0.99,
    latency_seconds=0.5,
    quantile=0.99,
    success_rate_metric="http_requests_total",
    latency_metric="http_request_duration_seconds_bucket",
    restarts_metric="kube_pod_container_status_restarts_total",
)
def analysis_thresholds(bundle: Bundle, params: Params) -> Iterator[Violation]:
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


@check("analysis-metric-names", "manifests", external=REQUIRED, target_labels=REQUIRED)
def analysis_metric_names(bundle: Bundle, params: Params) -> Iterator[Violation]:
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
                        "not have "
                        f"(labels: {', '.join(sorted(exported[name].labels)) or 'none'})",
                        path=(*metric.path, "provider", "prometheus", "query"),
                        fix="filter on a label the series carries",
                    )
    if not exported and bundle.of_kind("AnalysisTemplate", "ClusterAnalysisTemplate"):
        yield Violation(
            subject=bundle.name,
            message=f"no exported metrics found in {source}",
            fix="point --service-dir at the service's Python package",
        )


def _segments(rollout: Obj) -> list[tuple[int, int, list[dict[str, Any]]]]:
    """(weight, index of its setWeight step, the steps until the next setWeight)."""
    items = steps(rollout)
    out: list[tuple[int, int, list[dict[str, Any]]]] = []
    for index, step in enumerate(items):
        if "setWeight" in step:
            out.append((step["setWeight"], index, []))
        elif out:
            out[-1][2].append(step)
    return out


def _analysis_seconds(ref_spec: dict[str, Any], rollout: Obj, bundle: Bundle) -> float | None:
    longest = None
    for item in ref_spec.get("templates") or []:
        template = find_template(item, rollout, bundle) if isinstance(item, dict) else None
        if template is None:
            continue
        for metric in metrics_of(template, merged_args(template, ref_spec.get("args") or [])):
            count, interval = _int(metric.text("count")), duration_seconds(metric.text("interval"))
            if count and interval is not None:
                # first measurement after initialDelay, then one every interval
                delay = duration_seconds(metric.text("initialDelay")) or 0
                total = delay + (count - 1) * interval
                longest = total if longest is None else max(longest, total)
    return longest


@check("canary-progression", "manifests", weights=REQUIRED, pauses=REQUIRED)
def canary_progression(bundle: Bundle, params: Params) -> Iterator[Violation]:
    """The seed's production canary: 5% -> 2m -> 20% -> 3m -> 50% -> 5m -> 80% -> 3m -> 100%,
    each pause covered by analysis (inline in the segment or background from the start)."""
    want_weights = [int(w) for w in params["weights"]]
    want_pauses = [duration_seconds(p) or 0.0 for p in params["pauses"]]
    plan = " -> ".join(
        f"{w}%" + (f" -> {p}" if i < len(params["pauses"]) else "")
        for i, (w, p) in enumerate(zip(want_weights, [*params["pauses"], ""], strict=False))
    )
    for rollout in bundle.of_kind("Rollout"):
        kind, strat = strategy(rollout)
        if kind != "canary":
            continue
        segments = _segments(rollout)
        weights = [w for w, _, _ in segments]
        if weights not in (want_weights, want_weights[:-1]):
            yield rollout.violation(
                f"canary weights are {'/'.join(map(str, weights)) or 'none'}, the seed's are "
                f"{'/'.join(map(str, want_weights))}",
                path=("spec", "strategy", "canary", "steps"),
                fix=f"use the steps {plan}",
            )
            continue
        background = strat.get("analysis") if isinstance(strat.get("analysis"), dict) else None
        start = int(background.get("startingStep", 0)) if background else None
        for (weight, index, rest), want in zip(segments, want_pauses, strict=False):
            paused = [
                duration_seconds((s.get("pause") or {}).get("duration"))
                for s in rest
                if "pause" in s
            ]
            if any(p is None for p in paused):
                yield rollout.violation(
                    f"after setWeight {weight} a pause has no duration (waits for a manual "
                    "promote)",
                    path=("spec", "strategy", "canary", "steps", index),
                    fix=f"pause {show_seconds(want)} as the seed does",
                )
                continue
            inline = [s["analysis"] for s in rest if isinstance(s.get("analysis"), dict)]
            waited = sum(p for p in paused if p is not None)
            analysed = [_analysis_seconds(a, rollout, bundle) for a in inline]
            if not math.isclose(waited, want) and not any(
                a is not None and math.isclose(a, want) for a in analysed
            ):
                stay = waited or max((a for a in analysed if a is not None), default=0.0)
                yield rollout.violation(
                    f"the canary stays {show_seconds(stay)} at {weight}%, the seed's step is "
                    f"{show_seconds(want)}",
                    path=("spec", "strategy", "canary", "steps", index),
                    fix=f"use the steps {plan}",
                )
            if not inline and (start is None or start > index):
                yield rollout.violation(
                    f"no analysis runs while the canary is at {weight}%",
                    path=("spec", "strategy", "canary", "steps", index),
                    fix=(
                        "add an analysis step after each pause (or background analysis from "
                        "startingStep 0)"
                    ),
                )


@check("blue-green-window", "manifests", scale_down_delay_seconds=600)
def blue_green_window(bundle: Bundle, params: Params) -> Iterator[Violation]:
    want = params["scale_down_delay_seconds"]
    for rollout in bundle.of_kind("Rollout"):
        kind, strat = strategy(rollout)
        if kind != "blueGreen":
            continue
        delay = strat.get("scaleDownDelaySeconds", 30)
        if not isinstance(delay, int) or delay < want:
            yield rollout.violation(
                f"scaleDownDelaySeconds is {delay}: the old version is gone before the "
                f"{want // 60}-minute rollback window ends",
                path=("spec", "strategy", "blueGreen", "scaleDownDelaySeconds"),
                fix=f"set blueGreen.scaleDownDelaySeconds: {want}",
            )


@check("blue-green-promotion", "manifests")
def blue_green_promotion(bundle: Bundle, params: Params) -> Iterator[Violation]:
    for rollout in bundle.of_kind("Rollout"):
        kind, strat = strategy(rollout)
        if kind != "blueGreen":
            continue
        base = ("spec", "strategy", "blueGreen")
        if strat.get("autoPromotionEnabled", True) is not False:
            yield rollout.violation(
                "promotes automatically (autoPromotionEnabled is not false)",
                path=(*base, "autoPromotionEnabled"),
                fix="set blueGreen.autoPromotionEnabled: false (promote by hand)",
            )
        for when in ("prePromotion", "postPromotion"):
            refs = [r for r in analysis_refs(rollout) if r.kind == when and r.templates]
            if not refs:
                yield rollout.violation(
                    f"has no {when}Analysis",
                    path=base,
                    fix=f"add blueGreen.{when}Analysis templates",
                )
        if not strat.get("previewService"):
            yield rollout.violation("has no previewService to test the green version", path=base)


def analysis_ref_kinds(refs: list[AnalysisRef]) -> set[str]:
    return {r.kind for r in refs}
