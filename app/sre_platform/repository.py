"""SQL for the items table; each function runs in the caller's pooled connection."""

from __future__ import annotations

from typing import Any

from .database import Connection
from .models import ItemIn

Row = dict[str, Any]


async def insert(conn: Connection, item: ItemIn) -> Row:
    cur = await conn.execute(
        "INSERT INTO items (name, description, quantity) VALUES (%s, %s, %s) "
        "RETURNING id, name, description, quantity, created_at, updated_at",
        (item.name, item.description, item.quantity),
    )
    row = await cur.fetchone()
    if row is None:  # INSERT ... RETURNING always yields the row
        raise RuntimeError("INSERT returned no row")
    return row


async def get(conn: Connection, item_id: int) -> Row | None:
    cur = await conn.execute(
        "SELECT id, name, description, quantity, created_at, updated_at FROM items WHERE id = %s",
        (item_id,),
    )
    return await cur.fetchone()


async def page(conn: Connection, limit: int, offset: int) -> list[Row]:
    cur = await conn.execute(
        "SELECT id, name, description, quantity, created_at, updated_at FROM items "
        "ORDER BY id LIMIT %s OFFSET %s",
        (limit, offset),
    )
    return await cur.fetchall()


async def replace(conn: Connection, item_id: int, item: ItemIn) -> Row | None:
    cur = await conn.execute(
        "UPDATE items SET name = %s, description = %s, quantity = %s, updated_at = now() "
        "WHERE id = %s RETURNING id, name, description, quantity, created_at, updated_at",
        (item.name, item.description, item.quantity, item_id),
    )
    return await cur.fetchone()


async def delete(conn: Connection, item_id: int) -> bool:
    cur = await conn.execute("DELETE FROM items WHERE id = %s", (item_id,))
    return cur.rowcount == 1


async def schema_version(conn: Connection) -> int:
    """The newest applied migration (0 when none); raises UndefinedTable before any."""
    cur = await conn.execute("SELECT coalesce(max(version), 0) AS version FROM schema_migrations")
    row = await cur.fetchone()
    return int(row["version"]) if row else 0
