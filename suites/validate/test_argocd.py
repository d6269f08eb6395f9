"""The ArgoCD Application of the environment: Synced at the expected revision, Healthy.

Skipped, with the reason, where the environment file says ArgoCD does not manage it.
"""

from __future__ import annotations

from typing import Any

import pytest

from fixtures.core.kube import Kube
from fixtures.validate.environment import Environment, git_revision
from fixtures.validate.options import ValidateOptions
from fixtures.validate.summary import CheckRecord


@pytest.fixture
def application(kube: Kube, environment: Environment) -> dict[str, Any]:
    """The environment's Application; the test is skipped where ArgoCD is not enabled."""
    argocd = environment.argocd
    if not argocd.enabled:
        pytest.skip(f"argocd.enabled is false in {environment.file.name}")
    app = kube.get(
        f"/apis/argoproj.io/v1alpha1/namespaces/{argocd.namespace}/applications/{argocd.application}"
    )
    if app is None:
        pytest.fail(
            f"ArgoCD Application {argocd.namespace}/{argocd.application} (argocd.application of "
            f"{environment.file.name}) to exist, it does not",
            pytrace=False,
        )
    return app


@pytest.fixture(scope="session")
def expected_revision(validate_options: ValidateOptions, environment: Environment) -> str | None:
    """--expected-revision, else the commit of gitops.branch in the GitOps checkout
    (--gitops-root, else gitops.checkout, else this repository)."""
    return validate_options.expected_revision or git_revision(
        validate_options.gitops_root(environment), environment.branch
    )


@pytest.mark.check("ArgoCD synced at revision")
def test_argocd_synced(
    application: dict[str, Any], expected_revision: str | None, environment: Environment,
    check: CheckRecord,
) -> None:  # fmt: skip
    sync = (application.get("status") or {}).get("sync") or {}
    status, revision = sync.get("status", "Unknown"), sync.get("revision") or ""
    check.record(
        f"{status} at {revision[:12] or '?'}", f"Synced at {(expected_revision or '?')[:12]}"
    )
    ref = f"ArgoCD Application {environment.argocd.namespace}/{environment.argocd.application}"
    check.expect(None if status == "Synced" else f"{ref} sync status to be Synced, is {status}")
    check.expect(
        None
        if expected_revision
        else f"the expected revision to be known: {environment.branch!r} does not resolve in the "
        f"GitOps checkout; pass --expected-revision"
    )
    check.expect(
        None
        if revision == expected_revision
        else f"{ref} to be synced at revision {expected_revision} ({environment.branch}), is at "
        f"{revision or 'none'}"
    )


@pytest.mark.check("ArgoCD healthy")
def test_argocd_healthy(
    application: dict[str, Any], environment: Environment, check: CheckRecord
) -> None:
    health = (application.get("status") or {}).get("health") or {}
    status = health.get("status", "Unknown")
    check.record(
        f"{status}{' (' + health['message'] + ')' if health.get('message') else ''}", "Healthy"
    )
    check.expect(
        None
        if status == "Healthy"
        else f"ArgoCD Application {environment.argocd.namespace}/{environment.argocd.application} "
        f"health to be Healthy, is {status} {health.get('message', '')}".rstrip()
    )
