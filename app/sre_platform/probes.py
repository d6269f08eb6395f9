"""Operational endpoints: liveness, readiness, build version and Prometheus metrics.

/healthz depends on nothing, so a database outage never makes Kubernetes restart pods.
/readyz answers 503 only when PostgreSQL is unusable (unreachable, or its schema older
than this release); a Redis outage leaves it 200 with `cache: degraded`, because the
API keeps serving from PostgreSQL and taking every pod out of the Service would turn a
slower API into no API.
"""

from __future__ import annotations

import asyncio

import psycopg
from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from . import metrics, repository
from .database import DatabaseUnavailable, connection
from .services import Services, services

# Under the default 1 s probe timeout of Kubernetes.
READY_CHECK_TIMEOUT_SECONDS = 0.8

router = APIRouter(tags=["operations"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(request: Request) -> JSONResponse:
    svc = services(request)
    database, cache_ok = await asyncio.gather(_database_state(svc), svc.cache.ping())
    ready = database == "ok"
    body: dict[str, object] = {
        "status": "ready" if ready else "unavailable",
        "checks": {"database": database, "cache": "ok" if cache_ok else "degraded"},
    }
    if not ready:
        body["reason"] = f"database {database.replace('_', ' ')}"
    return JSONResponse(body, 200 if ready else 503)


async def _database_state(svc: Services) -> str:
    try:
        async with connection(svc.pool, timeout=READY_CHECK_TIMEOUT_SECONDS) as conn:
            version = await repository.schema_version(conn)
    except DatabaseUnavailable:
        return "unavailable"
    except psycopg.errors.UndefinedTable:
        return "schema_not_migrated"
    return "ok" if version >= svc.schema_version else "schema_not_migrated"


@router.get("/version")
async def version(request: Request) -> dict[str, str]:
    settings = request.app.state.settings
    return {"version": settings.app_version, "git_sha": settings.git_sha}


@router.get("/metrics", include_in_schema=False)
async def prometheus_metrics() -> Response:
    body, content_type = metrics.render()
    return Response(body, media_type=content_type)
