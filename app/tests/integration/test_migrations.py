"""Versioned migrations against a real PostgreSQL: ordering, idempotence, locking,
refusal of edited migrations, atomic failure, and readiness on an unmigrated schema."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator

import psycopg
import pytest
from fastapi.testclient import TestClient

from sre_platform.app import create_app
from sre_platform.config import Settings
from sre_platform.migrate import Migration, MigrationError, discover, migrate
from tests.localservers import PostgresServer, RedisServer

pytestmark = pytest.mark.integration

_names = itertools.count()


@pytest.fixture
def fresh_url(postgres: PostgresServer) -> Iterator[str]:
    """An empty database of its own."""
    name = f"migrations_{next(_names)}"
    yield postgres.create_database(name)
    with psycopg.connect(postgres.url(), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _applied(url: str) -> list[tuple[int, str]]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT version, name FROM schema_migrations ORDER BY version")
        return [(int(v), str(n)) for v, n in rows.fetchall()]


def test_applies_every_migration_once(fresh_url: str) -> None:
    shipped = discover()
    assert migrate(fresh_url) == [m.version for m in shipped]
    assert _applied(fresh_url) == [(m.version, m.name) for m in shipped]
    assert migrate(fresh_url) == []
    with psycopg.connect(fresh_url) as conn:
        columns = conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'items'"
        ).fetchall()
    assert {c for (c,) in columns} >= {"id", "name", "description", "quantity", "created_at"}


def test_only_pending_migrations_run(fresh_url: str) -> None:
    first, *rest = discover()
    assert migrate(fresh_url, [first]) == [first.version]
    assert migrate(fresh_url) == [m.version for m in rest]


def test_concurrent_runners_apply_each_migration_once(fresh_url: str) -> None:
    results: list[list[int]] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            results.append(migrate(fresh_url))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(results, key=len) == [[], [], [], [m.version for m in discover()]]


def test_an_edited_applied_migration_is_refused(fresh_url: str) -> None:
    migrate(fresh_url)
    first, *rest = discover()
    edited = Migration(first.version, first.name, first.sql + "\n-- edited")
    with pytest.raises(MigrationError, match="0001_create_items was changed after it was applied"):
        migrate(fresh_url, [edited, *rest])


def test_a_failing_migration_leaves_no_trace(fresh_url: str) -> None:
    good = Migration(1, "good", "CREATE TABLE good (id int)")
    bad = Migration(2, "bad", "CREATE TABLE half (id int); SELECT no_such_column FROM good")
    with pytest.raises(MigrationError, match=r"migration 0002_bad failed: .*no_such_column"):
        migrate(fresh_url, [good, bad])
    assert _applied(fresh_url) == [(1, "good")]
    with psycopg.connect(fresh_url) as conn:
        assert conn.execute("SELECT to_regclass('half')").fetchone() == (None,)


def test_newer_migrations_in_the_database_are_tolerated(
    fresh_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A rollback runs the previous release against the newer (additive) schema."""
    migrate(fresh_url)
    older_release = discover()[:1]
    assert migrate(fresh_url, older_release) == []
    assert "database has migrations this release does not know: [2]" in caplog.text


def test_readiness_and_api_on_an_unmigrated_database(
    fresh_url: str, redis_server: RedisServer
) -> None:
    settings = Settings(database_url=fresh_url, redis_url=redis_server.url)
    with TestClient(create_app(settings)) as client:
        ready = client.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["checks"]["database"] == "schema_not_migrated"
        assert ready.json()["reason"] == "database schema not migrated"
        response = client.get("/api/v1/items")
        assert response.status_code == 503
        assert response.json()["error"] == "schema_not_migrated"

        migrate(fresh_url, discover()[:1])  # older schema than this release needs
        assert client.get("/readyz").json()["checks"]["database"] == "schema_not_migrated"
        migrate(fresh_url)
        assert client.get("/readyz").status_code == 200
