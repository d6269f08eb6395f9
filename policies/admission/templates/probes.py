"""Probes and the preStop pause (policies/checks/probes.py) in CEL."""

from __future__ import annotations

from policies.admission.cel import SPEC, WORKLOAD_KINDS, all_of, has, literal
from policies.admission.template import Template, each_container, template
from policies.registry import Params

PROBES = ("livenessProbe", "readinessProbe", "startupProbe")


@template("probe-present")
def probe_present(params: Params) -> Template:
    probe = params["probe"]
    return Template(
        WORKLOAD_KINDS,
        (each_container(f"has(c.{probe})", f"has no {probe}", init=False, serving_only=True),),
    )


@template("distinct")
def distinct(params: Params) -> Template:
    passes = (
        "!(has(c.livenessProbe) && has(c.readinessProbe) && c.livenessProbe == c.readinessProbe)"
    )
    return Template(
        WORKLOAD_KINDS,
        (each_container(passes, "livenessProbe is identical to readinessProbe", init=False),),
    )


def _port_declared(handler: str) -> str:
    port = f"{handler}.port"
    by_number = "has(c.ports) && c.ports.exists(q, has(q.containerPort) && q.containerPort == {})"
    by_name = "has(c.ports) && c.ports.exists(q, has(q.name) && q.name == string({}))"
    return (
        f"(!has({port}) || (type({port}) == int ? ({by_number.format(port)}) : "
        f"({by_name.format(port)})))"
    )


@template("declared-port")
def declared_port(params: Params) -> Template:
    """The first of httpGet, tcpSocket and grpc a probe has names its port."""
    tests = []
    for name in PROBES:
        probe = f"c.{name}"
        port_ok = "true"
        for handler in reversed(("httpGet", "tcpSocket", "grpc")):
            port_ok = (
                f"(has({probe}.{handler}) ? {_port_declared(probe + '.' + handler)} : {port_ok})"
            )
        tests.append(f"!has({probe}) || {port_ok}")
    return Template(
        WORKLOAD_KINDS,
        (
            each_container(
                all_of(tests), "a probe targets a port the container does not declare", init=False
            ),
        ),
    )


@template("graceful-shutdown")
def graceful_shutdown(params: Params) -> Template:
    pre_stop = "c.lifecycle.preStop"
    handlers = " || ".join(
        f"has({pre_stop}.{h})" for h in ("exec", "httpGet", "tcpSocket", "sleep")
    )
    hooked = f"{has('c', 'lifecycle', 'preStop')} && ({handlers})"
    seconds = f"{pre_stop}.sleep.seconds"
    sleeps = f"{hooked} && {has(pre_stop, 'sleep', 'seconds')}"
    minimum = params["min_pre_stop_seconds"]
    grace = (
        f"({has(SPEC, 'terminationGracePeriodSeconds')} ? {SPEC}.terminationGracePeriodSeconds "
        ": 30)"
    )
    if isinstance(minimum, float) and not minimum.is_integer():
        too_short = f"double({seconds}) < {literal(minimum)}"
    else:
        too_short = f"{seconds} < {literal(int(minimum))}"
    return Template(
        WORKLOAD_KINDS,
        (
            each_container(
                hooked,
                "has no preStop hook, so it gets SIGTERM while still receiving traffic",
                init=False,
                serving_only=True,
            ),
            each_container(
                f"!({sleeps}) || !({too_short})",
                f"preStop sleeps less than {minimum:g} s: no time for the endpoints to drop "
                "the pod",
                init=False,
                serving_only=True,
            ),
            each_container(
                f"!({sleeps}) || {seconds} < {grace}",
                "preStop sleeps not less than terminationGracePeriodSeconds",
                init=False,
                serving_only=True,
            ),
        ),
    )
