"""Fault injection for canary tests (off by default; see docs/service.md).

Faults apply to the API routes only, never to /healthz, /readyz or /metrics: a bad
canary must look bad to clients and to the Prometheus analysis while its probes stay
truthful, otherwise Kubernetes would restart or unroute it before the analysis decides.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import sys

from fastapi import Request

log = logging.getLogger(__name__)


class InjectedFault(Exception):
    """Raised by the fault dependency; answered as a 500."""


async def inject_faults(request: Request) -> None:
    """Router dependency of the API: add latency, then fail a share of requests."""
    settings = request.app.state.settings
    if settings.fault_latency_ms:
        await asyncio.sleep(settings.fault_latency_ms / 1000)
    # Not security-relevant: this only picks which requests fail.
    if settings.fault_error_rate and random.random() < settings.fault_error_rate:  # noqa: S311  # nosec B311
        raise InjectedFault()


def schedule_exit(seconds: float) -> asyncio.TimerHandle:
    """Crash the process with exit code 1 after `seconds`, like a release that dies."""
    log.warning(
        "FAULT_EXIT_AFTER_SECONDS set: exiting in %s s", seconds, extra={"seconds": seconds}
    )
    return asyncio.get_running_loop().call_later(seconds, _exit_now)


def _exit_now() -> None:
    log.error("exiting with code 1 (FAULT_EXIT_AFTER_SECONDS)")
    sys.stdout.flush()
    sys.stderr.flush()
    # os._exit, not sys.exit: a crash skips graceful shutdown, which is the point.
    os._exit(1)
