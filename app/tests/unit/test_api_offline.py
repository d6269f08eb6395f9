"""The real app with PostgreSQL and Redis unreachable: input checks, errors, probes,
metrics and fault injection, none of which may depend on a backend being up."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient

from sre_platform.app import create_app
from sre_platform.config import Settings
from tests.conftest import MetricDelta


def test_liveness_needs_no_dependency(offline_client: TestClient) -> None:
    response = offline_client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_version_reports_the_build(offline_client: TestClient) -> None:
    assert offline_client.get("/version").json() == {"version": "1.2.3", "git_sha": "abc1234"}


def test_readiness_fails_with_the_reason_when_postgres_is_down(offline_client: TestClient) -> None:
    response = offline_client.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {
        "status": "unavailable",
        "checks": {"database": "unavailable", "cache": "degraded"},
        "reason": "database unavailable",
    }


def test_api_answers_503_json_when_postgres_is_down(offline_client: TestClient) -> None:
    response = offline_client.get("/api/v1/items/1")
    assert response.status_code == 503
    assert response.headers["retry-after"] == "1"
    assert response.json() == {
        "error": "database_unavailable",
        "message": "the database is unavailable; retry later",
    }


@pytest.mark.parametrize(
    ("method", "path", "body", "field", "location"),
    [
        ("post", "/api/v1/items", {"description": "no name"}, "name", "body"),
        ("post", "/api/v1/items", {"name": ""}, "name", "body"),
        ("post", "/api/v1/items", {"name": "x" * 201}, "name", "body"),
        ("post", "/api/v1/items", {"name": "ok", "quantity": -1}, "quantity", "body"),
        ("post", "/api/v1/items", {"name": "ok", "quantity": "many"}, "quantity", "body"),
        ("post", "/api/v1/items", {"name": "ok", "colour": "red"}, "colour", "body"),
        ("post", "/api/v1/items", None, "body", "body"),
        ("put", "/api/v1/items/1", {"name": 5}, "name", "body"),
        ("get", "/api/v1/items/abc", None, "item_id", "path"),
        ("get", "/api/v1/items/0", None, "item_id", "path"),
        ("get", "/api/v1/items/9223372036854775808", None, "item_id", "path"),
        ("delete", "/api/v1/items/-4", None, "item_id", "path"),
        ("get", "/api/v1/items?limit=0", None, "limit", "query"),
        ("get", "/api/v1/items?limit=101", None, "limit", "query"),
        ("get", "/api/v1/items?offset=-1", None, "offset", "query"),
    ],
)
def test_invalid_input_is_a_422_that_names_the_field(
    offline_client: TestClient,
    method: str,
    path: str,
    body: object,
    field: str,
    location: str,
) -> None:
    kwargs = {} if body is None else {"json": body}
    response = offline_client.request(method.upper(), path, **kwargs)
    assert response.status_code == 422, response.text
    payload = response.json()
    assert payload["error"] == "validation_failed"
    assert {"field": field, "location": location} in [
        {"field": f["field"], "location": f["location"]} for f in payload["fields"]
    ]
    assert field in payload["message"]


def test_malformed_json_is_a_422_on_the_body(offline_client: TestClient) -> None:
    response = offline_client.post(
        "/api/v1/items", content=b'{"name": ', headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json()["fields"][0]["field"] == "body"


def test_unknown_paths_and_methods_get_json_errors(offline_client: TestClient) -> None:
    missing = offline_client.get("/api/v2/items")
    assert missing.status_code == 404
    assert missing.json() == {"error": "not_found", "message": "Not Found"}
    wrong_method = offline_client.patch("/api/v1/items/1", json={})
    assert wrong_method.status_code == 405
    assert wrong_method.json()["error"] == "method_not_allowed"


def test_metrics_use_route_templates_and_numeric_status(
    offline_client: TestClient, metric_delta: MetricDelta
) -> None:
    labels = {"method": "GET", "route": "/api/v1/items/{item_id}", "status": "422"}
    metric_delta.mark("http_requests_total", **labels)
    metric_delta.mark("http_requests_total", method="GET", route="unmatched", status="404")
    metric_delta.mark(
        "http_request_duration_seconds_count", method="GET", route="/api/v1/items/{item_id}"
    )
    offline_client.get("/api/v1/items/abc")
    offline_client.get("/api/v1/items/def")
    offline_client.get("/no/such/path")
    assert metric_delta.increase("http_requests_total", **labels) == 2
    assert (
        metric_delta.increase("http_requests_total", method="GET", route="unmatched", status="404")
        == 1
    )
    assert (
        metric_delta.increase(
            "http_request_duration_seconds_count", method="GET", route="/api/v1/items/{item_id}"
        )
        == 2
    )


def test_metrics_endpoint_exposes_the_documented_names(offline_client: TestClient) -> None:
    offline_client.get("/healthz")
    response = offline_client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    build_info = [line for line in text.splitlines() if line.startswith("sre_platform_build_info")]
    assert build_info == ['sre_platform_build_info{git_sha="abc1234",version="1.2.3"} 1.0']
    assert 'http_requests_total{method="GET",route="/healthz",status="200"}' in text
    for bucket in (
        "0.005",
        "0.1",
        "0.25",
        "0.4",
        "0.5",
        "0.6",
        "0.75",
        "1.0",
        "2.5",
        "5.0",
        "10.0",
    ):
        assert (
            f'http_request_duration_seconds_bucket{{le="{bucket}",method="GET",route="/healthz"}}'
            in text
        )


def _client(settings: Settings, **faults: object) -> TestClient:
    return TestClient(create_app(Settings(**{**settings.__dict__, **faults})))


def test_error_fault_fails_api_requests_but_not_probes(
    unreachable_settings: Settings, metric_delta: MetricDelta
) -> None:
    labels = {"method": "GET", "route": "/api/v1/items/{item_id}", "status": "500"}
    metric_delta.mark("http_requests_total", **labels)
    with _client(unreachable_settings, fault_error_rate=1.0) as client:
        for _ in range(3):
            response = client.get("/api/v1/items/1")
            assert response.status_code == 500
            assert response.json() == {
                "error": "injected_fault",
                "message": "error injected by FAULT_ERROR_RATE",
            }
        assert client.get("/healthz").status_code == 200
        assert client.get("/metrics").status_code == 200
        assert client.get("/version").status_code == 200
        assert client.get("/readyz").status_code == 503  # the real reason: PostgreSQL is down
    assert metric_delta.increase("http_requests_total", **labels) == 3


def test_error_fault_hits_about_the_configured_share(unreachable_settings: Settings) -> None:
    # limit=0 is a 422 that needs no backend, so every other status is the fault's doing.
    with _client(unreachable_settings, fault_error_rate=0.5) as client:
        statuses = [client.get("/api/v1/items?limit=0").status_code for _ in range(400)]
    assert set(statuses) == {422, 500}
    # Binomial(400, 0.5): mean 200, standard deviation 10; this band is +-6 sigma.
    assert 140 <= statuses.count(500) <= 260


def test_latency_fault_delays_api_requests_only(unreachable_settings: Settings) -> None:
    with _client(unreachable_settings, fault_latency_ms=300) as client:
        started = time.perf_counter()
        assert client.get("/api/v1/items?limit=0").status_code == 422
        api_seconds = time.perf_counter() - started
        started = time.perf_counter()
        assert client.get("/healthz").status_code == 200
        probe_seconds = time.perf_counter() - started
    assert api_seconds >= 0.3
    assert probe_seconds < 0.3
