"""One CEL template per check, one module per rule group (as policies/checks/): importing
this package registers them all in `TEMPLATES` (policies/admission/template.py)."""

from __future__ import annotations

from policies.admission.template import TEMPLATES, WITHOUT_TEMPLATE, Template
from policies.admission.templates import (  # noqa: F401  (imported for their @template registrations)
    autoscaling,
    availability,
    images,
    pod_security,
    probes,
    resources,
    rollouts,
    secrets,
    workload,
)

__all__ = ["TEMPLATES", "WITHOUT_TEMPLATE", "Template"]
