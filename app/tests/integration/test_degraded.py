"""Stop PostgreSQL or Redis in the middle of a session: the API degrades as documented
and recovers on its own when the server is back."""

from __future__ import annotations

import time
from typing import Any

import pytest
import redis
from fastapi.testclient import TestClient

from sre_platform.cache import RETRY_AFTER_SECONDS, TIMEOUT_SECONDS, item_key
from tests.localservers import PostgresServer, RedisServer, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _create(client: TestClient, name: str = "widget") -> dict[str, Any]:
    response = client.post("/api/v1/items", json={"name": name})
    assert response.status_code == 201, response.text
    return dict(response.json())


def test_redis_down_serves_from_postgres_and_reports_degraded(
    client: TestClient, redis_server: RedisServer
) -> None:
    item = _create(client)
    path = f"/api/v1/items/{item['id']}"
    client.get(path)  # cached now
    redis_server.stop()

    response = client.get(path)
    assert response.status_code == 200
    assert response.headers["x-cache"] == "miss"
    assert response.json() == item
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "checks": {"database": "ok", "cache": "degraded"}}
    # Writes keep working too.
    assert client.put(path, json={"name": "renamed"}).json()["name"] == "renamed"
    assert _create(client, "second")["name"] == "second"
    assert client.get(path).json()["name"] == "renamed"

    redis_server.start()
    wait_until(
        lambda: client.get("/readyz").json()["checks"]["cache"] == "ok",
        "cache check to be ok again after Redis restarted",
        timeout=10,
    )
    time.sleep(RETRY_AFTER_SECONDS)
    assert client.get(path).headers["x-cache"] == "miss"
    assert client.get(path).headers["x-cache"] == "hit"


def test_a_hanging_redis_costs_one_timeout_per_second_not_per_request(
    client: TestClient, redis_client: redis.Redis
) -> None:
    item = _create(client)
    path = f"/api/v1/items/{item['id']}"
    client.get(path)
    # A paused Redis accepts connections but never answers: every command times out.
    redis_client.execute_command("CLIENT", "PAUSE", "3000", "ALL")
    started = time.perf_counter()
    for _ in range(20):
        assert client.get(path).status_code == 200
    elapsed = time.perf_counter() - started
    # Without the bypass this is 20 x TIMEOUT_SECONDS (5 s).
    assert elapsed < 10 * TIMEOUT_SECONDS
    wait_until(lambda: bool(redis_client.ping()), "Redis to answer after CLIENT PAUSE", 10)


def test_missed_invalidation_never_serves_a_stale_item(
    client: TestClient, redis_client: redis.Redis
) -> None:
    """Redis stops answering (but keeps its data) while an item is updated: the delete
    cannot be delivered, so the cache is flushed before it is trusted again."""
    item = _create(client)
    path = f"/api/v1/items/{item['id']}"
    client.get(path)
    assert redis_client.exists(item_key(item["id"]))

    redis_client.execute_command("CLIENT", "PAUSE", "1500", "ALL")
    assert client.put(path, json={"name": "fresh"}).status_code == 200
    wait_until(lambda: bool(redis_client.ping()), "Redis to answer after CLIENT PAUSE", 10)
    assert redis_client.exists(item_key(item["id"]))  # the stale entry survived the outage
    time.sleep(RETRY_AFTER_SECONDS)

    assert client.get(path).json()["name"] == "fresh"
    assert client.get(path).json()["name"] == "fresh"


def test_postgres_down_is_503_json_and_readyz_says_why(
    client: TestClient, postgres: PostgresServer
) -> None:
    item = _create(client)
    client.get(f"/api/v1/items/{item['id']}")  # cached
    postgres.stop()

    for method, path, body in [
        ("GET", "/api/v1/items", None),
        ("GET", f"/api/v1/items/{item['id'] + 1}", None),
        ("POST", "/api/v1/items", {"name": "new"}),
        ("PUT", f"/api/v1/items/{item['id']}", {"name": "x"}),
        ("DELETE", f"/api/v1/items/{item['id']}", None),
    ]:
        response = client.request(method, path, **({"json": body} if body else {}))
        assert response.status_code == 503, f"{method} {path}: {response.text}"
        assert response.json() == {
            "error": "database_unavailable",
            "message": "the database is unavailable; retry later",
        }
        assert "Traceback" not in response.text
    # Items already in the cache are still served.
    assert client.get(f"/api/v1/items/{item['id']}").status_code == 200

    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json() == {
        "status": "unavailable",
        "checks": {"database": "unavailable", "cache": "ok"},
        "reason": "database unavailable",
    }
    assert client.get("/healthz").status_code == 200  # liveness: do not restart the pod

    postgres.start()
    wait_until(
        lambda: client.get("/readyz").status_code == 200,
        "readiness to be 200 after PostgreSQL restarted",
        timeout=10,
    )
    assert client.get("/api/v1/items").status_code == 200


def test_postgres_restart_after_a_long_outage_recovers_at_once(
    client: TestClient, postgres: PostgresServer
) -> None:
    _create(client)
    postgres.stop()
    deadline = time.monotonic() + 8
    while time.monotonic() < deadline:  # the pool's reconnect backoff grows meanwhile
        assert client.get("/api/v1/items").status_code == 503
    postgres.start()
    started = time.monotonic()
    wait_until(
        lambda: client.get("/api/v1/items").status_code == 200,
        "the API to answer 200 after PostgreSQL restarted",
        timeout=15,
    )
    assert time.monotonic() - started < 5
