"""Liveness and readiness probes: present, different, aimed at a real port; and a preStop
pause so a terminating pod keeps serving until it leaves the endpoints.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from policies.model import Bundle, Violation, as_dict
from policies.registry import REQUIRED, Params, check
from policies.workloads import Container, PodTemplate

PROBES = ("livenessProbe", "readinessProbe", "startupProbe")


@check("probe-present", "workloads", probe=REQUIRED)
def probe_present(pod: PodTemplate, bundle: Bundle, params: Params) -> Iterator[Violation]:
    if not pod.serving:
        return
    probe = params["probe"]
    for container in pod.containers(init=False):
        if not isinstance(container.data.get(probe), dict):
            yield pod.violation(f"has no {probe}", container=container, field=(probe,))


@check("distinct", "workloads")
def distinct(pod: PodTemplate, bundle: Bundle, params: Params) -> Iterator[Violation]:
    """Identical probes restart pods exactly when they stop taking traffic (kube-score)."""
    for container in pod.containers(init=False):
        live, ready = container.data.get("livenessProbe"), container.data.get("readinessProbe")
        if isinstance(live, dict) and live == ready:
            yield pod.violation(
                "livenessProbe is identical to readinessProbe",
                container=container,
                field=("livenessProbe",),
            )


def _probe_port(probe: dict[str, Any]) -> Any:
    for handler in ("httpGet", "tcpSocket", "grpc"):
        spec = probe.get(handler)
        if isinstance(spec, dict):
            return spec.get("port")
    return None


@check("declared-port", "workloads")
def declared_port(pod: PodTemplate, bundle: Bundle, params: Params) -> Iterator[Violation]:
    for container in pod.containers(init=False):
        numbers, names = container.declared_ports()
        for probe_name in PROBES:
            probe = container.data.get(probe_name)
            if not isinstance(probe, dict):
                continue
            port = _probe_port(probe)
            if port is None:
                continue
            ok = port in numbers if isinstance(port, int) else str(port) in names
            if not ok:
                yield pod.violation(
                    f"{probe_name} targets port {port!r}, which the container does not declare",
                    container=container,
                    field=(probe_name,),
                    fix="point the probe at a declared containerPort (by name or number)",
                )


def _pre_stop(container: Container) -> tuple[bool, float | None]:
    """(whether the container has a preStop hook, its pause in seconds when the hook is a
    sleep action; None for exec/httpGet hooks, whose length is unknown)."""
    pre_stop = as_dict(container.data.get("lifecycle")).get("preStop")
    if not isinstance(pre_stop, dict) or not pre_stop:
        return False, None
    sleep = pre_stop.get("sleep")
    if isinstance(sleep, dict) and isinstance(sleep.get("seconds"), (int, float)):
        return True, float(sleep["seconds"])
    return True, None


@check("graceful-shutdown", "workloads", min_pre_stop_seconds=1)
def graceful_shutdown(pod: PodTemplate, bundle: Bundle, params: Params) -> Iterator[Violation]:
    """A preStop pause keeps a terminating pod serving until the endpoints (and the canary's
    load balancer targets) have dropped it, within terminationGracePeriodSeconds."""
    if not pod.serving:
        return
    grace = pod.spec.get("terminationGracePeriodSeconds", 30)
    minimum = float(params["min_pre_stop_seconds"])
    for container in pod.containers(init=False):
        hooked, seconds = _pre_stop(container)
        if not hooked:
            yield pod.violation(
                "has no preStop hook, so it gets SIGTERM while still receiving traffic",
                container=container,
                field=("lifecycle",),
                values_key="lifecycle.preStopSleepSeconds",
            )
        elif seconds is not None and seconds < minimum:
            yield pod.violation(
                f"preStop sleeps {seconds:g} s, less than {minimum:g} s: no time for the "
                "endpoints to drop the pod",
                container=container,
                field=("lifecycle", "preStop"),
                values_key="lifecycle.preStopSleepSeconds",
            )
        elif seconds is not None and isinstance(grace, int) and seconds >= grace:
            yield pod.violation(
                f"preStop sleeps {seconds:g} s, not less than terminationGracePeriodSeconds "
                f"{grace}",
                container=container,
                field=("lifecycle", "preStop"),
                fix="keep the preStop pause well below terminationGracePeriodSeconds",
            )
