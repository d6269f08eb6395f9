"""One JSON error shape for every failure: `{"error": code, "message": text}`.

Handlers turn every exception into a clear answer; a traceback only ever goes to the
log, never to a client.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

import psycopg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from .database import DatabaseUnavailable
from .faults import InjectedFault

log = logging.getLogger(__name__)


def error_response(
    status: int,
    error: str,
    message: str,
    headers: Mapping[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    return JSONResponse({"error": error, "message": message, **extra}, status, headers=headers)


def _field(error: dict[str, Any]) -> str:
    """`name` for a body field, `limit` for a query parameter, `body` for the body itself."""
    loc = [str(part) for part in error.get("loc", ())]
    if error.get("type") == "json_invalid" or len(loc) < 2:
        return loc[0] if loc else "request"
    return ".".join(loc[1:])


def install(app: FastAPI) -> None:
    """Register the handlers; the decorator keeps each handler's precise exception type."""

    @app.exception_handler(RequestValidationError)
    async def validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        fields = [
            {
                "field": _field(err),
                "location": str(err["loc"][0]) if err.get("loc") else "request",
                "message": str(err.get("msg", "invalid")),
            }
            for err in exc.errors()
        ]
        names = ", ".join(dict.fromkeys(f["field"] for f in fields))
        return error_response(
            422, "validation_failed", f"invalid value for: {names}", fields=fields
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        phrase = HTTPStatus(exc.status_code).phrase
        message = exc.detail if isinstance(exc.detail, str) else phrase
        code = phrase.lower().replace(" ", "_")
        return error_response(exc.status_code, code, message, headers=exc.headers)

    @app.exception_handler(DatabaseUnavailable)
    async def database(_: Request, exc: DatabaseUnavailable) -> JSONResponse:
        return error_response(
            503,
            "database_unavailable",
            "the database is unavailable; retry later",
            headers={"Retry-After": "1"},
        )

    @app.exception_handler(psycopg.errors.UndefinedTable)
    async def schema(_: Request, exc: psycopg.errors.UndefinedTable) -> JSONResponse:
        log.error("database schema is missing: %s", exc)
        return error_response(
            503,
            "schema_not_migrated",
            "the database schema is not migrated; run `python -m sre_platform migrate`",
        )

    @app.exception_handler(InjectedFault)
    async def fault(_: Request, exc: InjectedFault) -> JSONResponse:
        return error_response(500, "injected_fault", "error injected by FAULT_ERROR_RATE")

    @app.exception_handler(Exception)
    async def internal(_: Request, exc: Exception) -> JSONResponse:
        # Starlette re-raises after answering, so uvicorn logs the traceback once.
        return error_response(500, "internal_error", "internal server error")
