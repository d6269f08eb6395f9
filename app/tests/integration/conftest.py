"""Real PostgreSQL and Redis for the integration tests, one of each per test session.

Both run from the Debian packages on free loopback ports in temporary directories and
are stopped at the end. Tests that stop a server on purpose leave it stopped; the
`servers_running` fixture starts it again before the next test.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TypeVar

import psycopg
import pytest
import redis
from fastapi.testclient import TestClient

from sre_platform.app import create_app
from sre_platform.config import Settings
from sre_platform.migrate import migrate
from tests.localservers import PostgresServer, RedisServer, ServerError

S = TypeVar("S", PostgresServer, RedisServer)


def _serving(make: Callable[[], S], what: str) -> Iterator[S]:
    """A started server for the session, removed at its end; a clear failure if it cannot start."""
    try:
        server = make()
        server.start()
    except ServerError as exc:
        pytest.fail(f"cannot start {what} for the integration tests: {exc}", pytrace=False)
    yield server
    server.cleanup()


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    yield from _serving(PostgresServer, "PostgreSQL")


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    yield from _serving(RedisServer, "Redis")


@pytest.fixture(autouse=True)
def servers_running(postgres: PostgresServer, redis_server: RedisServer) -> Iterator[None]:
    """Every test starts with both servers up, whatever the previous test did to them."""
    for server in (postgres, redis_server):
        if not server.running:
            server.start()
    yield


@pytest.fixture(scope="session")
def migrated_url(postgres: PostgresServer) -> str:
    url = postgres.create_database("sre_platform")
    migrate(url)
    return url


@pytest.fixture
def database_url(migrated_url: str, servers_running: None) -> str:
    """The migrated database, emptied for this test."""
    with psycopg.connect(migrated_url, autocommit=True) as conn:
        conn.execute("TRUNCATE items RESTART IDENTITY")
    return migrated_url


@pytest.fixture
def redis_client(redis_server: RedisServer, servers_running: None) -> Iterator[redis.Redis]:
    client = redis_server.client()
    client.flushall()
    yield client
    client.close()


@pytest.fixture
def settings(database_url: str, redis_server: RedisServer, redis_client: redis.Redis) -> Settings:
    return Settings(database_url=database_url, redis_url=redis_server.url)


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings), raise_server_exceptions=False) as test_client:
        yield test_client
