"""PostgreSQL access through one async connection pool per process.

Every way the database can be unreachable (refused, pool exhausted, connection dropped
mid-query, server shutting down) becomes `DatabaseUnavailable`, which the API answers
with 503 and a JSON body: callers never see a driver exception or a traceback.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import psycopg
from psycopg import AsyncConnection
from psycopg.rows import DictRow, dict_row
from psycopg_pool import AsyncConnectionPool

log = logging.getLogger(__name__)

# How long a request waits for a pooled connection before it gets 503: long enough to
# ride out a burst, short enough that a probe or a client does not hang on a dead database.
ACQUIRE_TIMEOUT_SECONDS = 2.0
# Server-side cap per statement, so a stuck query cannot hold a pooled connection forever.
STATEMENT_TIMEOUT_MS = 5000
CONNECT_TIMEOUT_SECONDS = 3
RECONNECT_TIMEOUT_SECONDS = 2.0

Connection = AsyncConnection[DictRow]


class DatabaseUnavailable(RuntimeError):
    """PostgreSQL cannot be reached or stopped answering."""


def connect_kwargs() -> dict[str, Any]:
    """Connection options shared by the pool and the one-off migration connection."""
    return {
        "connect_timeout": CONNECT_TIMEOUT_SECONDS,
        "options": f"-c statement_timeout={STATEMENT_TIMEOUT_MS}",
        "application_name": "sre-platform",
    }


def create_pool(database_url: str, max_size: int) -> AsyncConnectionPool[Connection]:
    """A closed pool; `open_pool` starts it without waiting for the database."""
    return AsyncConnectionPool(
        database_url,
        connection_class=AsyncConnection[DictRow],
        kwargs={**connect_kwargs(), "row_factory": dict_row},
        min_size=1,
        max_size=max_size,
        open=False,
        # One empty round trip per checkout: after a database restart the pool's idle
        # connections are all dead, and without the check each would fail one request.
        check=AsyncConnectionPool.check_connection,
        timeout=ACQUIRE_TIMEOUT_SECONDS,
        # The pool retries a failed connect with exponential backoff until this timeout,
        # then gives up and lets the next request start a fresh attempt. The default
        # (5 min) would keep the API down for minutes after PostgreSQL is back.
        reconnect_timeout=RECONNECT_TIMEOUT_SECONDS,
        name="sre-platform",
    )


async def open_pool(pool: AsyncConnectionPool[Connection]) -> None:
    # wait=False: the process must come up (and report not-ready) while PostgreSQL is down.
    await pool.open(wait=False)


@asynccontextmanager
async def connection(
    pool: AsyncConnectionPool[Connection], timeout: float = ACQUIRE_TIMEOUT_SECONDS
) -> AsyncIterator[Connection]:
    """A pooled connection inside a transaction; connection-level failures become
    `DatabaseUnavailable`, other database errors (bugs, constraint violations) propagate."""
    try:
        async with pool.connection(timeout=timeout) as conn:
            yield conn
    except psycopg.OperationalError as exc:
        # Also covers PoolTimeout, AdminShutdown and statement timeouts (QueryCanceled).
        log.warning("database unavailable: %s", _first_line(exc))
        raise DatabaseUnavailable(_first_line(exc)) from exc


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]
