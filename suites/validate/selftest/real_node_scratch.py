"""A scratch environment on the lab's REAL node, for breakages the simulation cannot make.

The release of helm/values-lab-real-node.yaml (the image built from this repository's
Dockerfile, tagged as that file's `image.tag`) in a namespace of its own, with PostgreSQL and
Redis on the node's address, the service's fault env (`extraEnv`, e.g. FAULT_ERROR_RATE) on
every pod, real requests from wrk through the release's Service (fixtures.traffic.load),
the admission policies, and an environment file (environments/lab-real-node.yaml's, pointed
at that namespace and the Service's cluster IP, which this host reaches through the node's
kube-proxy). The node is brought up if needed and stopped at the end only if this started
it and nobody else uses it (as the e2e tier's `--real-node` session does).
"""

from __future__ import annotations

import contextlib
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from scratch import ENV_NAME, RELEASE, ScratchEnvironment

from fixtures.admission import Installed
from fixtures.cluster import Cluster
from fixtures.core import processes
from fixtures.core.helm import fullname, install
from fixtures.core.kube import WaitTimeout, wait_until
from fixtures.core.prometheus import Prometheus
from fixtures.core.tools import REPO_ROOT
from fixtures.node.backing import backing_services
from fixtures.node.layout import node_root
from fixtures.node.lifecycle import down, up
from fixtures.traffic.load import ServiceLoad
from fixtures.validate.environment import read_values_key
from policies.admission.live import shipped
from policies.admission.manifests import ENVIRONMENT_LABEL

REAL_NODE_VALUES = REPO_ROOT / "helm" / "values-lab-real-node.yaml"
REPLICAS = 3  # two cores: enough pods for a rate, few enough to start in seconds
# Requests of the window before the tier runs: a rate over real traffic, not its first scrape.
MIN_REQUESTS = 300


def _say(line: str) -> None:
    print(line, file=sys.stderr)


@contextlib.contextmanager
def real_node_environment(
    cluster: Cluster, directory: Path, extra_env: list[dict[str, str]]
) -> Iterator[ScratchEnvironment]:
    """Deploy on the real node with `extra_env`, send real load, write the environment file;
    delete the namespace (and stop what was started) at the end."""
    if cluster.provider != "lab" or cluster.prometheus_url is None:
        raise RuntimeError("the real node joins the lab only (--cluster lab)")
    tag = str(read_values_key(REAL_NODE_VALUES, "image.tag"))
    node = up(tags=(tag,), say=_say)
    users = processes.Users(node_root() / "users")
    token = users.register()
    namespace = f"validate-rn-{uuid.uuid4().hex[:6]}"
    policies = Installed(cluster)
    try:
        with backing_services() as services:
            cluster.kube.ensure_namespace(namespace, {ENVIRONMENT_LABEL: ENV_NAME})
            cluster.kube.apply([services.secret(namespace)])
            policies.apply(shipped())
            values: dict[str, Any] = {
                "replicaCount": REPLICAS,
                # Another release may hold the node port (make lab-deploy ENV=lab-real-node).
                "service": {"type": "ClusterIP", "nodePort": None},
                "extraEnv": extra_env,
            }
            release = install(
                cluster, namespace, release=RELEASE, environment_values=REAL_NODE_VALUES,
                values=values, timeout=180,
            )  # fmt: skip
            service = cluster.kube.get(
                f"/api/v1/namespaces/{namespace}/services/{fullname(RELEASE)}"
            )
            base_url = f"http://{(service or {})['spec']['clusterIP']}"
            with ServiceLoad.for_service(cluster.kube, namespace, fullname(RELEASE)):
                env = ScratchEnvironment(cluster, namespace, tag, base_url, directory, release)
                env.based_on(
                    "lab-real-node", "validate tier self-test on the real node (scratch namespace)"
                )
                _wait_for_requests(Prometheus(cluster.prometheus_url), namespace)
                yield env
    finally:
        policies.remove()
        if not cluster.keep:
            # Its pods go before the node may stop (else they stay Terminating).
            with contextlib.suppress(WaitTimeout):
                cluster.kube.delete_namespace(namespace, wait=60)
        others = users.release(token)
        if node.started and not cluster.keep and not others:
            down(say=lambda _: None)


def _wait_for_requests(prometheus: Prometheus, namespace: str) -> None:
    """Until the last minute holds MIN_REQUESTS of the pods' own API requests."""
    query = f'sum(increase(http_requests_total{{namespace="{namespace}", route=~"/api/.*"}}[1m]))'

    def check() -> str | None:
        value = prometheus.value(query)
        return None if value is not None and value >= MIN_REQUESTS else f"{value} requests"

    wait_until(check, f"{MIN_REQUESTS} real API requests of {namespace} in Prometheus", 120)
