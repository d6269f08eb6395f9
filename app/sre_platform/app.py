"""The ASGI application: routes, error handlers, metrics, and the resources' lifetime."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI

from . import api, errors, metrics, probes
from .cache import ItemCache
from .config import Settings
from .database import create_pool, open_pool
from .faults import inject_faults, schedule_exit
from .migrate import discover
from .services import Services

log = logging.getLogger(__name__)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    pool = create_pool(settings.database_url, settings.db_pool_max_size)
    await open_pool(pool)
    cache = ItemCache(settings.redis_url, settings.cache_ttl_seconds)
    migrations = discover()
    app.state.services = Services(pool, cache, migrations[-1].version if migrations else 0)
    exit_timer = (
        schedule_exit(settings.fault_exit_after_seconds)
        if settings.fault_exit_after_seconds
        else None
    )
    log.info(
        "sre-platform %s (%s) ready to serve",
        settings.app_version,
        settings.git_sha,
        extra={"version": settings.app_version, "git_sha": settings.git_sha},
    )
    try:
        yield
    finally:
        if exit_timer:
            exit_timer.cancel()
        await cache.close()
        await pool.close(timeout=5)
        log.info("stopped")


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app; settings come from the environment unless given (tests)."""
    settings = settings or Settings.from_env()
    app = FastAPI(
        title="sre-platform",
        version=settings.app_version,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        # Metrics are Prometheus (metrics.py). FastAPI's built-in OpenTelemetry would
        # otherwise look up the global OTel providers on every request.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.settings = settings
    errors.install(app)
    app.include_router(probes.router)
    # Faults are a router dependency of the API only when configured: zero cost when off.
    faulty = settings.fault_error_rate > 0 or settings.fault_latency_ms > 0
    app.include_router(api.router, dependencies=[Depends(inject_faults)] if faulty else [])
    app.add_middleware(metrics.MetricsMiddleware)
    metrics.set_build_info(settings.app_version, settings.git_sha)
    return app
