"""Argo Rollouts: the controller's own validation of the strategy, what
`kubectl argo rollouts lint` skips (referenced Services, achievable weights), and this
project's delivery contract (the production canary's steps, blue-green promotion).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

from policies.analysis import (
    analysis_refs,
    canary_steps,
    duration_seconds,
    find_template,
    merged_args,
    metrics_of,
    rollout_strategy,
    show_seconds,
)
from policies.model import Bundle, Obj, Violation, as_dict, as_list
from policies.registry import REQUIRED, Params, check
from policies.workloads import fewest_pods, workload_ref_target

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


@check("strategy", "manifests")
def strategy(bundle: Bundle, params: Params) -> Iterator[Violation]:
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
            ref = as_dict(ref)
            yield rollout.violation(
                f"workloadRef {ref.get('kind')}/{ref.get('name')} is not in the same manifests",
                path=("spec", "workloadRef"),
            )
        if ref is not None and rollout.get("spec", "template") is not None:
            yield rollout.violation("sets both workloadRef and template", path=("spec", "template"))


@check("services", "manifests")
def services(bundle: Bundle, params: Params) -> Iterator[Violation]:
    for rollout in bundle.of_kind("Rollout"):
        kind, strat = rollout_strategy(rollout)
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


@check("progress-deadline", "manifests", require_abort=False)
def progress_deadline(bundle: Bundle, params: Params) -> Iterator[Violation]:
    for rollout in bundle.of_kind("Rollout"):
        deadline = rollout.get("spec", "progressDeadlineSeconds", default=600)
        ready = rollout.get("spec", "minReadySeconds", default=0)
        if isinstance(deadline, int) and isinstance(ready, int) and deadline <= ready:
            yield rollout.violation(
                f"progressDeadlineSeconds {deadline} is not above minReadySeconds {ready}",
                path=("spec", "progressDeadlineSeconds"),
            )
        kind, strat = rollout_strategy(rollout)
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


@check("steps", "manifests")
def steps(bundle: Bundle, params: Params) -> Iterator[Violation]:
    for rollout in bundle.of_kind("Rollout"):
        routed = bool(rollout.get("spec", "strategy", "canary", "trafficRouting"))
        for index, step in enumerate(canary_steps(rollout)):
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
        kind, strat = rollout_strategy(rollout)
        if kind != "canary" or strat.get("trafficRouting"):
            continue
        weights = [
            s["setWeight"]
            for s in canary_steps(rollout)
            if isinstance(s.get("setWeight"), int) and 0 < s["setWeight"] < 100
        ]
        if not weights:
            continue
        replicas, source = fewest_pods(rollout, bundle)
        needed = math.ceil(100 / min(weights))
        if replicas < needed:
            yield rollout.violation(
                f"setWeight {min(weights)} without trafficRouting needs >= {needed} pods, "
                f"it has {replicas} ({source}); the real canary share would be "
                f"{100 * max(1, math.ceil(replicas * min(weights) / 100)) / max(replicas, 1):.0f}%",
                path=("spec", "strategy", "canary"),
                values_key="rollouts.canary.trafficRouting",
            )


def _segments(rollout: Obj) -> list[tuple[int, int, list[dict[str, Any]]]]:
    """(weight, index of its setWeight step, the steps until the next setWeight)."""
    items = canary_steps(rollout)
    out: list[tuple[int, int, list[dict[str, Any]]]] = []
    for index, step in enumerate(items):
        if "setWeight" in step:
            out.append((step["setWeight"], index, []))
        elif out:
            out[-1][2].append(step)
    return out


def _analysis_seconds(ref_spec: dict[str, Any], rollout: Obj, bundle: Bundle) -> float | None:
    longest = None
    for item in as_list(ref_spec.get("templates")):
        template = find_template(item, rollout, bundle) if isinstance(item, dict) else None
        if template is None:
            continue
        for metric in metrics_of(template, merged_args(template, as_list(ref_spec.get("args")))):
            count, interval = metric.integer("count"), duration_seconds(metric.text("interval"))
            if count and interval is not None:
                # first measurement after initialDelay, then one every interval
                delay = duration_seconds(metric.text("initialDelay")) or 0
                total = delay + (count - 1) * interval
                longest = total if longest is None else max(longest, total)
    return longest


@check("production-canary", "manifests", weights=REQUIRED, pauses=REQUIRED)
def production_canary(bundle: Bundle, params: Params) -> Iterator[Violation]:
    """The seed's production canary: 5% -> 2m -> 20% -> 3m -> 50% -> 5m -> 80% -> 3m -> 100%,
    each pause covered by analysis (inline in the segment or background from the start)."""
    want_weights = [int(w) for w in params["weights"]]
    want_pauses = [duration_seconds(p) or 0.0 for p in params["pauses"]]
    plan = " -> ".join(
        f"{w}%" + (f" -> {p}" if i < len(params["pauses"]) else "")
        for i, (w, p) in enumerate(zip(want_weights, [*params["pauses"], ""], strict=False))
    )
    for rollout in bundle.of_kind("Rollout"):
        kind, strat = rollout_strategy(rollout)
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
        starting = background.get("startingStep", 0) if background else None
        start = starting if isinstance(starting, int) else (0 if background else None)
        for (weight, index, rest), want in zip(segments, want_pauses, strict=False):
            paused = [
                duration_seconds(as_dict(s.get("pause")).get("duration"))
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
        kind, strat = rollout_strategy(rollout)
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
        kind, strat = rollout_strategy(rollout)
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
