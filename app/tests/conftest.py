"""Fixtures shared by the service's unit and integration tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY

from sre_platform.app import create_app
from sre_platform.config import Settings
from tests.localservers import free_port


class MetricDelta:
    """Reads a Prometheus sample relative to when the fixture was created.

    The metrics live in the process-wide registry, so tests compare increases, never
    absolute values.
    """

    def __init__(self) -> None:
        self._start: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}

    def _key(self, name: str, labels: dict[str, str]) -> tuple[str, tuple[tuple[str, str], ...]]:
        return name, tuple(sorted(labels.items()))

    def mark(self, name: str, **labels: str) -> None:
        self._start[self._key(name, labels)] = REGISTRY.get_sample_value(name, labels) or 0.0

    def increase(self, name: str, **labels: str) -> float:
        now = REGISTRY.get_sample_value(name, labels) or 0.0
        return now - self._start.get(self._key(name, labels), 0.0)


@pytest.fixture
def metric_delta() -> MetricDelta:
    return MetricDelta()


@pytest.fixture
def unreachable_settings() -> Settings:
    """Settings whose PostgreSQL and Redis ports have nothing listening (refused at once)."""
    port = free_port()
    return Settings(
        database_url=f"postgresql://postgres@127.0.0.1:{port}/sre_platform",
        redis_url=f"redis://127.0.0.1:{port}/0",
        app_version="1.2.3",
        git_sha="abc1234",
    )


@pytest.fixture
def offline_client(unreachable_settings: Settings) -> Iterator[TestClient]:
    """The real app with both backends down: what a pod sees before its dependencies."""
    with TestClient(create_app(unreachable_settings), raise_server_exceptions=False) as client:
        yield client
