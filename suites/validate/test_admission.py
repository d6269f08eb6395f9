"""The environment enforces the catalogue's admission policies (issue 17): the policies and
bindings of deploy/admission/ are installed as generated (scripts/install-admission.sh),
and the environment's namespace carries the label that binds them
(`sre-platform.io/environment: <env>`, ArgoCD's managedNamespaceMetadata). Read-only: two
GETs of admissionregistration.k8s.io/v1 and one of the namespace.
"""

from __future__ import annotations

import pytest

from fixtures.core.kube import Kube
from fixtures.validate.environment import Environment
from fixtures.validate.summary import CheckRecord
from policies.admission.live import drift, shipped
from policies.admission.manifests import ENVIRONMENT_LABEL, SELECTOR

API = "/apis/admissionregistration.k8s.io/v1"
INSTALL = "scripts/install-admission.sh --env {env}"


@pytest.mark.check("admission policies current")
def test_admission_policies_installed_and_current(
    kube: Kube, environment: Environment, check: CheckRecord
) -> None:
    wanted = shipped()
    live = [
        {**item, "kind": kind}
        for kind, plural in (
            ("ValidatingAdmissionPolicy", "validatingadmissionpolicies"),
            ("ValidatingAdmissionPolicyBinding", "validatingadmissionpolicybindings"),
        )
        for item in kube.list(f"{API}/{plural}", SELECTOR)
    ]
    problems = drift(wanted, live)
    policies = sum(d["kind"] == "ValidatingAdmissionPolicy" for d in wanted)
    check.record(
        f"{len(live)} installed, {len(problems)} missing or different",
        f"the {len(wanted)} objects of deploy/admission/ ({policies} policies)",
    )
    shown = "; ".join(problems[:5]) + ("; ..." if len(problems) > 5 else "")
    check.expect(
        None
        if not problems
        else f"deploy/admission/ to be installed and current on {kube.host}, is not: {shown} "
        f"(install: {INSTALL.format(env=environment.name)})"
    )


@pytest.mark.check("namespace judged at admission")
def test_namespace_judged_by_admission(
    kube: Kube, environment: Environment, check: CheckRecord
) -> None:
    namespace = kube.get(f"/api/v1/namespaces/{environment.namespace}")
    if namespace is None:
        check.record("no namespace", environment.name)
        check.expect(f"namespace {environment.namespace} to exist, it does not")
        return
    labels = (namespace.get("metadata") or {}).get("labels") or {}
    value = labels.get(ENVIRONMENT_LABEL)
    check.record(f"{ENVIRONMENT_LABEL}: {value}" if value else "no label", environment.name)
    check.expect(
        None
        if value == environment.name
        else f"namespace {environment.namespace} to carry {ENVIRONMENT_LABEL}="
        f"{environment.name} (the admission bindings judge by it), carries "
        f"{value or 'no such label'}"
    )
