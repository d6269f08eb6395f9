"""The ArgoCD checks against a real Application object (ArgoCD's own CRD, pinned module).

No ArgoCD controller acts on it: the Application is created with the status a controller
would have written (Synced, OutOfSync, ...), so each state is exact and the checks read
what they read in production. Given an environment file with `argocd.enabled: true` naming it,
a Synced+Healthy Application at the expected revision passes both checks, and an
OutOfSync, Degraded one at another revision fails both, saying so.
"""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from scratch import ScratchEnvironment

from fixtures.cluster import Cluster
from fixtures.core.kube import load_manifest, wait_until
from fixtures.core.tools import REPO_ROOT, ToolMissing, tool_dir

pytestmark = pytest.mark.e2e

CRD = "applications.argoproj.io"
APP = "sre-platform-selftest"
SYNCED = "ArgoCD synced at revision"
HEALTHY = "ArgoCD healthy"
REVISION = "1111111111111111111111111111111111111111"


def crd_file() -> Path:
    try:
        path = tool_dir("argo-cd") / "crds" / "application-crd.yaml"
    except ToolMissing as error:
        pytest.skip(str(error))
    if not path.is_file():
        pytest.skip(f"{path} is missing: make tools (argo-cd)")
    return path


@pytest.fixture(scope="module")
def argocd_namespace(cluster: Cluster) -> Iterator[str]:
    """A namespace for the Application; ArgoCD's CRD installed for as long as needed."""
    kube = cluster.kube
    must_install = kube.established(CRD) == "absent"
    namespace = f"validate-st-argocd-{uuid.uuid4().hex[:6]}"
    try:
        if must_install:
            kube.apply(load_manifest(crd_file().read_text()))
            wait_until(lambda: kube.established(CRD), f"CRD {CRD} to be Established", 30)
        kube.ensure_namespace(namespace)
        yield namespace
    finally:
        kube.delete_namespace(namespace, wait=120)
        others = kube.list("/apis/argoproj.io/v1alpha1/applications")
        if must_install and not others:
            kube.delete("apiextensions.k8s.io/v1", "CustomResourceDefinition", CRD)


def application(namespace: str, sync: str, revision: str, health: str) -> dict[str, Any]:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": APP, "namespace": namespace},
        "spec": {
            "project": "default",
            "source": {
                "repoURL": "https://github.com/example/sre-platform.git",
                "path": "helm",
                "targetRevision": "main",
            },
            "destination": {"server": "https://kubernetes.default.svc", "namespace": "x"},
        },
        "status": {
            "sync": {"status": sync, "revision": revision},
            "health": {"status": health, "message": "" if health == "Healthy" else "aborted"},
        },
    }


def run_with_application(
    scratch: ScratchEnvironment, cluster: Cluster, namespace: str, app: dict[str, Any],
    *args: str,
) -> Any:  # fmt: skip
    cluster.kube.delete("argoproj.io/v1alpha1", "Application", APP, namespace)
    cluster.kube.create(app)
    env_file = scratch.env_file(
        argocd={"enabled": True, "application": APP, "namespace": namespace}
    )
    return scratch.run_tier("-k", "argocd", *args, env_file=env_file)


def test_synced_healthy_application_passes(
    scratch: ScratchEnvironment, cluster: Cluster, argocd_namespace: str
) -> None:
    app = application(argocd_namespace, "Synced", REVISION, "Healthy")
    result = run_with_application(
        scratch, cluster, argocd_namespace, app, "--expected-revision", REVISION
    )
    assert result.returncode == 0, result
    assert result.result(SYNCED) == result.result(HEALTHY) == "PASS", result


def test_out_of_sync_degraded_application_fails(
    scratch: ScratchEnvironment, cluster: Cluster, argocd_namespace: str
) -> None:
    app = application(argocd_namespace, "OutOfSync", "2" * 40, "Degraded")
    result = run_with_application(
        scratch, cluster, argocd_namespace, app, "--expected-revision", REVISION
    )
    assert result.returncode == 1, result
    assert result.failed() == sorted([SYNCED, HEALTHY]), result
    assert "sync status to be Synced, is OutOfSync" in result.checks[SYNCED]["message"]
    assert "health to be Healthy, is Degraded aborted" in result.checks[HEALTHY]["message"]


def test_expected_revision_defaults_to_the_gitops_branch(
    scratch: ScratchEnvironment, cluster: Cluster, argocd_namespace: str, tmp_path: Path
) -> None:
    # Given: a GitOps checkout whose main branch is at some commit
    gitops = tmp_path / "gitops"
    gitops.mkdir()
    git = ["git", "-C", str(gitops), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "init", "-q", "-b", "main"], check=True)
    subprocess.run([*git, "commit", "-q", "--allow-empty", "-m", "gitops"], check=True)
    head = subprocess.run([*git, "rev-parse", "main"], capture_output=True, text=True,
                          check=True).stdout.strip()  # fmt: skip
    (gitops / "helm").symlink_to(REPO_ROOT / "helm")

    # When: the Application is synced at an older commit
    app = application(argocd_namespace, "Synced", REVISION, "Healthy")
    result = run_with_application(
        scratch, cluster, argocd_namespace, app, "--gitops-root", str(gitops)
    )

    # Then: the sync check fails, naming the branch's commit it expected
    assert result.returncode == 1, result
    assert result.failed() == [SYNCED], result
    assert (
        f"to be synced at revision {head} (main), is at {REVISION}"
        in (result.checks[SYNCED]["message"])
    ), result
