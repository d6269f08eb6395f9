"""The read-only guarantee: the tier runs under deploy/rbac/validate-readonly.yaml's identity,
and that identity cannot write.

Given the manifest applied to the lab as it is, and a token of its ServiceAccount
(`kubectl create token`, the TokenRequest API) in a kubeconfig of its own,
when the tier runs with exactly that kubeconfig,
then every check passes as it does for the admin (nothing the tier reads is forbidden),
and every kind of write the tier could be tempted to make is refused by the API server.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from scratch import RELEASE, ScratchEnvironment

from fixtures.cluster import Cluster
from fixtures.core.kube import load_kubeconfig
from fixtures.core.tools import REPO_ROOT

pytestmark = pytest.mark.e2e

MANIFEST = REPO_ROOT / "deploy" / "rbac" / "validate-readonly.yaml"
SA_NAMESPACE = SA_NAME = "sre-platform-validator"
USERNAME = f"system:serviceaccount:{SA_NAMESPACE}:{SA_NAME}"
READ_VERBS = {"get", "list", "watch"}


def manifest_objects() -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(MANIFEST.read_text()) if doc]


def test_manifest_grants_reads_only() -> None:
    roles = [o for o in manifest_objects() if o["kind"] in ("ClusterRole", "Role")]
    assert roles, f"{MANIFEST} to define a ClusterRole, defines none"
    for role in roles:
        for rule in role["rules"]:
            verbs = set(rule["verbs"])
            name = role["metadata"]["name"]
            assert verbs <= READ_VERBS, f"{name}: verbs to be read-only, are {sorted(verbs)}"
            resources = set(rule.get("resources", []))
            assert not resources & {"secrets", "configmaps", "*"}, rule
            assert not any("/" in r for r in resources), f"no subresources (exec, log): {rule}"
            assert "*" not in rule.get("apiGroups", []), rule


def validator_kubeconfig(cluster: Cluster, token: str, path: Path) -> Path:
    """A kubeconfig with the lab's server and CA and the ServiceAccount's token, nothing else."""
    admin = load_kubeconfig(Path(cluster.kubeconfig))
    context = next(c for c in admin["contexts"] if c["name"] == cluster.context)["context"]
    server = next(c for c in admin["clusters"] if c["name"] == context["cluster"])["cluster"]
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "lab", "cluster": server}],
        "users": [{"name": SA_NAME, "user": {"token": token}}],
        "contexts": [{"name": SA_NAME, "context": {"cluster": "lab", "user": SA_NAME}}],
        "current-context": SA_NAME,
    }
    path.write_text(yaml.safe_dump(config))
    path.chmod(0o600)
    return path


@pytest.fixture(scope="module")
def validator(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """The lab as the validator identity sees it; the RBAC objects are removed afterwards."""
    cluster.kube.apply(manifest_objects())
    try:
        token = cluster.kube.token(SA_NAMESPACE, SA_NAME, 15 * 60)
        path = validator_kubeconfig(cluster, token, tmp_path_factory.mktemp("rbac") / "kubeconfig")
        yield Cluster("existing", path, SA_NAME, keep=True)
    finally:
        if not cluster.keep:
            cluster.kube.delete_objects(manifest_objects())


def test_identity_is_the_service_account(validator: Cluster) -> None:
    whoami = validator.kubectl("auth", "whoami", "-o", "jsonpath={.status.userInfo.username}")
    assert whoami.stdout.strip() == USERNAME, whoami.stdout


def test_tier_passes_under_the_validator_identity(
    scratch: ScratchEnvironment, validator: Cluster
) -> None:
    # When: the tier runs with the validator's kubeconfig and nothing else
    result = scratch.run_tier(
        "--full", "--kubeconfig", str(validator.kubeconfig), "--context", SA_NAME
    )

    # Then: it used that kubeconfig, and every check passed as it does for the admin
    assert f"kubeconfig {validator.kubeconfig}, context {SA_NAME}" in result.output, result
    assert result.returncode == 0, result
    assert "forbidden" not in result.output.lower(), result
    assert result.result("rollout healthy") == "PASS", result


def pod_name(cluster: Cluster, namespace: str) -> str:
    pods = cluster.kube.list(
        f"/api/v1/namespaces/{namespace}/pods", f"app.kubernetes.io/instance={RELEASE}"
    )
    return str(pods[0]["metadata"]["name"])


@pytest.mark.parametrize(
    "write",
    [
        "annotate rollout",
        "scale rollout",
        "patch pod status",
        "delete pod",
        "create configmap",
        "create namespace",
        "read secrets",
    ],
)
def test_writes_are_forbidden(
    scratch: ScratchEnvironment, validator: Cluster, cluster: Cluster, write: str
) -> None:
    ns = scratch.namespace
    pod = pod_name(cluster, ns)
    args = {
        "annotate rollout": ["annotate", "rollout", RELEASE, "-n", ns, "validate=write"],
        "scale rollout": ["scale", "rollout", RELEASE, "-n", ns, "--replicas=1"],
        "patch pod status": ["patch", "pod", pod, "-n", ns, "--subresource=status",
                             "--type=merge", "-p", '{"status":{"phase":"Failed"}}'],
        "delete pod": ["delete", "pod", pod, "-n", ns, "--wait=false"],
        "create configmap": ["create", "configmap", "validate-write", "-n", ns],
        "create namespace": ["create", "namespace", "validate-write"],
        "read secrets": ["get", "secrets", "-n", ns],
    }[write]  # fmt: skip

    # When: the validator identity tries it, as a person at a terminal would
    attempt = validator.kubectl(*args, check=False)

    # Then: the API server refuses, naming the identity
    assert attempt.returncode != 0, f"{write} to be refused, succeeded: {attempt.stdout}"
    assert "forbidden" in attempt.stderr.lower(), attempt.stderr
    assert USERNAME in attempt.stderr, attempt.stderr
    # and nothing changed (the admin still sees the pod it tried to change)
    assert cluster.kube.get(f"/api/v1/namespaces/{ns}/pods/{pod}") is not None


def test_token_is_short_lived(validator: Cluster) -> None:
    """The token carries an expiry (15 minutes), so a leaked one stops working."""
    token = load_kubeconfig(Path(validator.kubeconfig))["users"][0]["user"]["token"]
    payload = token.split(".")[1]
    claims = yaml.safe_load(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert claims["exp"] - claims["iat"] <= 15 * 60, claims
