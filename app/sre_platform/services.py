"""The per-process resources the routes share, created by the app's lifespan."""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

from fastapi import Request
from psycopg_pool import AsyncConnectionPool

from .cache import ItemCache
from .database import Connection


@dataclass
class Services:
    pool: AsyncConnectionPool[Connection]
    cache: ItemCache
    # The newest migration this release ships; /readyz wants at least this in the database.
    schema_version: int


def services(request: Request) -> Services:
    return cast(Services, request.app.state.services)
