"""Host-level facts of the lab's real node, by testinfra (local backend).

Given the lab with its real node (kubelet, kube-proxy and containerd as processes on this
host, `fixtures.node`),
then its three components run with the node's own configuration, containerd runs plain
runc (the runc wrapper is the kind engine's, needed only where Docker runs privileged
containers: docs/kind.md) and clamps oom_score_adj exactly where this host lacks
CAP_SYS_RESOURCE, kubelet answers its health check, and the node's network is in place:
the bridge with the node's address and kube-proxy's chains.

Selected with --real-node (make e2e-real-node), like the node's smoke test.
"""

from __future__ import annotations

import re

import pytest
import testinfra  # type: ignore[import-untyped]

from fixtures.kind import docker
from fixtures.node import layout as real_node_module
from fixtures.node.lifecycle import RealNode

pytestmark = [pytest.mark.e2e, pytest.mark.real_node, pytest.mark.xdist_group("real-node")]


def test_real_node_components_and_runtime(real_node: RealNode) -> None:
    host = testinfra.get_host("local://")
    root = real_node_module.node_root()
    config_file = root / "containerd" / "config.toml"
    wanted = {
        "containerd": f"--config={config_file}",
        "kubelet": f"--hostname-override={real_node.name}",
        "kube-proxy": f"--config={root / 'kube-proxy-config.yaml'}",
    }
    for comm, argument in wanted.items():
        found = [p for p in host.process.filter(comm=comm) if argument in p.args]
        assert len(found) == 1, f"{comm} with {argument}: {[p.args for p in found]}"

    config = host.file(str(config_file)).content_string
    runtime = re.search(r'BinaryName = "([^"]+)"', config)
    assert runtime is not None, config
    assert host.file(runtime.group(1)).linked_to in ("/usr/sbin/runc", "/usr/bin/runc")
    assert "runc-wrapper" not in config
    lacks = "CAP_SYS_RESOURCE" in docker.missing_capabilities()
    assert f"restrict_oom_score_adj = {'true' if lacks else 'false'}" in config

    assert host.socket(f"unix://{real_node_module.containerd_address()}").is_listening
    assert host.socket(f"tcp://127.0.0.1:{real_node_module.PORTS['kubelet-healthz']}").is_listening
    bridge = host.interface(real_node_module.BRIDGE)
    assert bridge.exists and real_node.node_ip in bridge.addresses
    assert any("KUBE-SERVICES" in rule for rule in host.iptables.rules("nat"))
