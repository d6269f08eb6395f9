"""/api/v1/items against real PostgreSQL and Redis: CRUD, paging, cache behaviour."""

from __future__ import annotations

import json
from typing import Any

import pytest
import redis
from fastapi.testclient import TestClient

from sre_platform.cache import item_key

pytestmark = pytest.mark.integration


def _create(client: TestClient, **fields: object) -> dict[str, Any]:
    response = client.post("/api/v1/items", json={"name": "widget", **fields})
    assert response.status_code == 201, response.text
    return dict(response.json())


def test_create_then_read_back(client: TestClient) -> None:
    response = client.post(
        "/api/v1/items", json={"name": "widget", "description": "blue", "quantity": 3}
    )
    assert response.status_code == 201
    created = response.json()
    assert response.headers["location"] == f"/api/v1/items/{created['id']}"
    assert created["name"] == "widget"
    assert created["description"] == "blue"
    assert created["quantity"] == 3
    assert created["created_at"] == created["updated_at"]
    fetched = client.get(response.headers["location"])
    assert fetched.status_code == 200
    assert fetched.json() == created


def test_defaults_for_optional_fields(client: TestClient) -> None:
    created = _create(client)
    assert created["description"] == ""
    assert created["quantity"] == 0


def test_replace_changes_the_item_and_its_update_time(client: TestClient) -> None:
    created = _create(client, quantity=1)
    response = client.put(f"/api/v1/items/{created['id']}", json={"name": "gadget", "quantity": 7})
    assert response.status_code == 200
    replaced = response.json()
    assert replaced["name"] == "gadget"
    assert replaced["quantity"] == 7
    assert replaced["description"] == ""  # PUT replaces: omitted fields take their defaults
    assert replaced["created_at"] == created["created_at"]
    assert replaced["updated_at"] > created["updated_at"]
    assert client.get(f"/api/v1/items/{created['id']}").json() == replaced


def test_delete_removes_the_item(client: TestClient) -> None:
    created = _create(client)
    assert client.delete(f"/api/v1/items/{created['id']}").status_code == 204
    assert client.get(f"/api/v1/items/{created['id']}").status_code == 404
    again = client.delete(f"/api/v1/items/{created['id']}")
    assert again.status_code == 404
    assert again.json() == {
        "error": "not_found",
        "message": f"item {created['id']} does not exist",
    }


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_missing_items_are_404(client: TestClient, method: str) -> None:
    kwargs = {"json": {"name": "x"}} if method == "PUT" else {}
    response = client.request(method, "/api/v1/items/424242", **kwargs)
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


def test_list_pages_in_id_order(client: TestClient) -> None:
    ids = [_create(client, name=f"item-{n}")["id"] for n in range(5)]
    first = client.get("/api/v1/items?limit=2").json()
    assert [i["id"] for i in first["items"]] == ids[:2]
    assert (first["limit"], first["offset"]) == (2, 0)
    rest = client.get("/api/v1/items?limit=10&offset=2").json()
    assert [i["id"] for i in rest["items"]] == ids[2:]
    assert client.get("/api/v1/items?offset=5").json()["items"] == []


def test_default_page_size_is_20(client: TestClient) -> None:
    for n in range(21):
        _create(client, name=f"item-{n}")
    assert len(client.get("/api/v1/items").json()["items"]) == 20


def test_unicode_round_trips(client: TestClient) -> None:
    created = _create(client, name="größe ✓", description="日本語")
    assert client.get(f"/api/v1/items/{created['id']}").json()["name"] == "größe ✓"


def test_reads_are_cached_after_the_first(client: TestClient, redis_client: redis.Redis) -> None:
    created = _create(client)
    path = f"/api/v1/items/{created['id']}"
    assert redis_client.get(item_key(created["id"])) is None
    first = client.get(path)
    assert first.headers["x-cache"] == "miss"
    cached = redis_client.get(item_key(created["id"]))
    assert isinstance(cached, bytes)
    assert json.loads(cached) == created
    assert 0 < redis_client.ttl(item_key(created["id"])) <= 60
    second = client.get(path)
    assert second.headers["x-cache"] == "hit"
    assert second.json() == first.json()


def test_cached_bodies_are_served_as_stored(client: TestClient, redis_client: redis.Redis) -> None:
    """The cache really is read: an entry planted in Redis is what the API returns."""
    created = _create(client)
    client.get(f"/api/v1/items/{created['id']}")
    planted = {**created, "name": "from-redis"}
    redis_client.set(item_key(created["id"]), json.dumps(planted))
    assert client.get(f"/api/v1/items/{created['id']}").json()["name"] == "from-redis"


@pytest.mark.parametrize("write", ["put", "delete"])
def test_writes_invalidate_the_cached_item(
    client: TestClient, redis_client: redis.Redis, write: str
) -> None:
    created = _create(client)
    key = item_key(created["id"])
    path = f"/api/v1/items/{created['id']}"
    client.get(path)
    assert redis_client.exists(key)
    if write == "put":
        assert client.put(path, json={"name": "renamed"}).status_code == 200
        assert not redis_client.exists(key)
        after = client.get(path)
        assert after.headers["x-cache"] == "miss"
        assert after.json()["name"] == "renamed"
    else:
        assert client.delete(path).status_code == 204
        assert not redis_client.exists(key)
        assert client.get(path).status_code == 404


def test_not_found_is_not_cached(client: TestClient, redis_client: redis.Redis) -> None:
    client.get("/api/v1/items/777")
    assert not redis_client.exists(item_key(777))


def test_readiness_is_ok_with_both_backends(client: TestClient) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "checks": {"database": "ok", "cache": "ok"}}
