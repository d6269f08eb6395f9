"""The HTTP service Argo Rollouts calls (a `web` metric): POST or GET /v1/judge.

Status codes (docs/judge.md): 200 with a judgement for every verdict, including fail and
inconclusive (the AnalysisTemplate's conditions read `result`); 400 a malformed request;
404 a revision that Prometheus has never seen in the window; 422 a comparison the data
cannot support; 502 Prometheus refused the query; 503 Prometheus unreachable; 500 a bug.
Every non-2xx body is an ErrorBody: `{"contract", "error", "message", "details"}`. To
Argo Rollouts a non-2xx answer is a measurement Error, counted against
consecutiveErrorLimit; an answer is never a traceback.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from . import CONTRACT
from .compare import compare
from .model import ErrorBody, Judgement, JudgeRequest
from .prometheus import Prometheus, PrometheusError, PrometheusUnreachable
from .series import UnknownRevision
from .verdict import NotComparable

log = logging.getLogger("sre_judge")


def _error(status: int, error: str, message: str, details: list[str] | None = None) -> JSONResponse:
    body = ErrorBody(error=error, message=message, details=details or [])  # type: ignore[arg-type]
    return JSONResponse(status_code=status, content=body.model_dump(by_alias=True))


def _validation_details(errors: list[Any]) -> list[str]:
    details = []
    for item in errors:
        where = ".".join(str(part) for part in item.get("loc", ()) if part not in ("body", "query"))
        details.append(f"{where or 'request'}: {item.get('msg', 'invalid')}")
    return details


def create_app(prometheus: Prometheus) -> FastAPI:
    app = FastAPI(
        title="sre-judge",
        version=CONTRACT,
        description="Statistical canary judge: canary vs baseline from Prometheus (docs/judge.md)",
    )

    @app.exception_handler(RequestValidationError)
    async def _bad_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        details = _validation_details(list(exc.errors()))
        return _error(400, "bad_request", f"malformed request: {details[0]}", details)

    @app.exception_handler(Exception)
    async def _internal(_: Request, exc: Exception) -> JSONResponse:
        log.exception("internal error")
        return _error(
            500, "internal", f"internal error ({type(exc).__name__}); see the judge's log"
        )

    def _judge(request: JudgeRequest) -> Any:
        started = time.perf_counter()
        try:
            judgement = compare(request, prometheus)
        except UnknownRevision as err:
            return _error(404, "unknown_revision", str(err))
        except NotComparable as err:
            return _error(422, "not_comparable", str(err))
        except PrometheusUnreachable as err:
            return _error(503, "prometheus_unreachable", str(err))
        except PrometheusError as err:
            return _error(502, "prometheus_error", str(err))
        log.info(
            "judged %s/%s vs %s over %s: %s, score %s (%.0f ms)",
            request.namespace,
            request.canary_hash,
            request.baseline_hash,
            request.window,
            judgement.result,
            judgement.score,
            (time.perf_counter() - started) * 1000,
        )
        return judgement

    @app.post("/v1/judge", response_model=Judgement, response_model_by_alias=True)
    def judge_post(request: JudgeRequest) -> Any:
        return _judge(request)

    @app.get("/v1/judge", response_model=Judgement, response_model_by_alias=True)
    def judge_get(http: Request) -> Any:
        """The same with query parameters (top-level fields only: namespace, canaryHash,
        baselineHash, window, end, routeRegex, minRequests, alpha)."""
        try:
            request = JudgeRequest.model_validate(dict(http.query_params))
        except ValidationError as err:
            details = _validation_details(list(err.errors()))
            return _error(400, "bad_request", f"malformed request: {details[0]}", details)
        return _judge(request)

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz")
    def readyz() -> Any:
        """Ready when Prometheus answers: without it no judgement is possible."""
        try:
            prometheus.ready()
        except (PrometheusUnreachable, PrometheusError) as err:
            return _error(503, "prometheus_unreachable", str(err))
        return {"status": "ok", "prometheus": prometheus.url}

    return app
