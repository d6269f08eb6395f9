"""The e2e tier: tests against a real Kubernetes API (the offline lab by default).

The cluster provider (`--cluster lab|kind|existing`, the `cluster` fixture) is the shared
plugin fixtures/cluster.py; suites/validate registers the same plugin, once per session.
"""

from __future__ import annotations

import pytest

from fixtures import cluster as cluster_plugin


def pytest_addoption(parser: pytest.Parser, pluginmanager: pytest.PytestPluginManager) -> None:
    cluster_plugin.register(pluginmanager)
