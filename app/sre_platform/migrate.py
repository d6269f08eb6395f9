"""Versioned SQL schema migrations, recorded in a `schema_migrations` table.

Files are `migrations/NNNN_name.sql`, applied in version order, each in its own
transaction together with its `schema_migrations` row, so a failed migration leaves no
trace. A session advisory lock serialises concurrent runners (several pods starting at
once). An applied migration whose file changed is refused, because the database would no
longer match the code; versions the code does not know are tolerated, because during a
rollback the previous release runs against the newer, additive schema.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from importlib import resources
from typing import Any

import psycopg

from .database import DatabaseUnavailable, connect_kwargs

log = logging.getLogger(__name__)

_FILE = re.compile(r"^(?P<version>\d{4})_(?P<name>[a-z0-9_]+)\.sql$")
# Any fixed 64-bit number works; it only has to be the same for every runner.
_LOCK_KEY = 0x5E5F_1A7F_0001


class MigrationError(RuntimeError):
    """The migrations on disk and in the database disagree, or one failed to apply."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def discover(package: str = "sre_platform.migrations") -> list[Migration]:
    """The migrations shipped in `package`, in version order."""
    found: dict[int, Migration] = {}
    for entry in resources.files(package).iterdir():
        if not entry.name.endswith(".sql"):
            continue
        match = _FILE.match(entry.name)
        if not match:
            raise MigrationError(f"{entry.name}: migration files must be named NNNN_name.sql")
        version = int(match["version"])
        if version in found:
            raise MigrationError(f"{entry.name}: version {version} is used twice")
        found[version] = Migration(version, match["name"], entry.read_text(encoding="utf-8"))
    return [found[v] for v in sorted(found)]


def migrate(database_url: str, migrations: list[Migration] | None = None) -> list[int]:
    """Apply the pending migrations; return the versions applied by this call."""
    todo = discover() if migrations is None else migrations
    try:
        with psycopg.connect(database_url, autocommit=True, **connect_kwargs()) as conn:
            conn.execute("SELECT pg_advisory_lock(%s)", (_LOCK_KEY,))
            try:
                return _apply(conn, todo)
            finally:
                conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_KEY,))
    except psycopg.OperationalError as exc:
        raise DatabaseUnavailable(str(exc).strip().splitlines()[0]) from exc


def _apply(conn: psycopg.Connection[tuple[Any, ...]], todo: list[Migration]) -> list[int]:
    conn.execute(
        """CREATE TABLE IF NOT EXISTS schema_migrations (
               version    INTEGER PRIMARY KEY,
               name       TEXT NOT NULL,
               checksum   TEXT NOT NULL,
               applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
           )"""
    )
    rows = conn.execute("SELECT version, checksum FROM schema_migrations").fetchall()
    applied: dict[int, str] = dict(rows)
    known = {m.version for m in todo}
    for m in todo:
        if m.version in applied and applied[m.version] != m.checksum:
            raise MigrationError(
                f"migration {m.version:04d}_{m.name} was changed after it was applied; "
                "add a new migration instead of editing an applied one"
            )
    unknown = sorted(set(applied) - known)
    if unknown:
        log.warning(
            "database has migrations this release does not know: %s (newer release?)",
            unknown,
            extra={"unknown_versions": unknown},
        )
    done: list[int] = []
    for m in todo:
        if m.version in applied:
            continue
        try:
            with conn.transaction():
                conn.execute(m.sql.encode())
                conn.execute(
                    "INSERT INTO schema_migrations (version, name, checksum) VALUES (%s, %s, %s)",
                    (m.version, m.name, m.checksum),
                )
        except psycopg.OperationalError:
            raise
        except psycopg.Error as exc:
            raise MigrationError(
                f"migration {m.version:04d}_{m.name} failed: {str(exc).strip().splitlines()[0]}"
            ) from exc
        log.info("applied migration %04d_%s", m.version, m.name, extra={"version": m.version})
        done.append(m.version)
    return done
