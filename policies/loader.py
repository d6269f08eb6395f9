"""The one place that imports every check module, so that their `@check`s register.

A rule file names its check; the catalogue resolves that name through `all_checks()`.
Nothing else imports a check module: checks share helpers from the reading modules
(`workloads`, `analysis`, `applications`, `workflows`, `trees`), never from each other.
"""

from __future__ import annotations

from policies.checks import (  # noqa: F401  (imported for their @check registrations)
    analysis,
    api,
    argocd,
    autoscaling,
    availability,
    docker,
    images,
    judge,
    networking,
    pod_security,
    probes,
    rbac,
    resources,
    rollouts,
    scripts,
    secrets,
    workflows,
    workload,
)
from policies.registry import CHECKS, CheckSpec


def all_checks() -> dict[str, CheckSpec]:
    """Every registered check by name."""
    return CHECKS
