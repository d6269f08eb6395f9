"""The service as the container runs it: `python -m sre_platform serve` in its own process."""

from __future__ import annotations

import json
import re
import signal
import threading
import time
import urllib.request
from collections.abc import Iterator

import pytest

from tests.localservers import PostgresServer, RedisServer, ServiceProcess, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture
def backends(postgres: PostgresServer, redis_server: RedisServer) -> dict[str, str]:
    """DATABASE_URL (a fresh, empty database) and REDIS_URL of the session's real servers."""
    return {
        "DATABASE_URL": postgres.create_database("process_tests"),
        "REDIS_URL": redis_server.url,
    }


@pytest.fixture
def services() -> Iterator[list[ServiceProcess]]:
    """Service processes started by a test; all stopped and removed at teardown."""
    started: list[ServiceProcess] = []
    yield started
    for service in started:
        service.cleanup()


def _get(url: str, timeout: float = 10) -> tuple[int, bytes]:
    with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - loopback
        return int(response.status), bytes(response.read())


def _start(
    services: list[ServiceProcess], env: dict[str, str], *, wait: bool = True
) -> ServiceProcess:
    service = ServiceProcess(env)
    services.append(service)
    service.start(wait=wait)
    return service


def test_serve_migrates_on_start_and_logs_json(
    services: list[ServiceProcess], backends: dict[str, str]
) -> None:
    service = _start(services, {**backends, "MIGRATE_ON_START": "true"})
    status, body = _get(f"{service.url}/readyz")
    assert status == 200
    assert json.loads(body)["checks"] == {"database": "ok", "cache": "ok"}
    service.stop()
    assert service.returncode == 0
    entries = [json.loads(line) for line in service.log().splitlines() if line.strip()]
    messages = [e["message"] for e in entries]
    assert "applied migration 0001_create_items" in messages
    assert "GET /readyz 200" in messages
    access = next(e for e in entries if e["message"] == "GET /readyz 200")
    assert access["route"] == "/readyz"
    assert access["duration_ms"] >= 0


def test_sigterm_lets_an_in_flight_request_finish(
    services: list[ServiceProcess], backends: dict[str, str]
) -> None:
    # FAULT_LATENCY_MS: a slow request to be in flight
    service = _start(services, {**backends, "MIGRATE_ON_START": "true", "FAULT_LATENCY_MS": "3000"})
    result: dict[str, object] = {}

    def slow_request() -> None:
        try:
            result["response"] = _get(f"{service.url}/api/v1/items")
        except OSError as exc:
            result["error"] = exc

    client = threading.Thread(target=slow_request)
    client.start()
    time.sleep(1.0)  # the request is connected and inside its 3 s of injected latency
    assert service.proc is not None
    service.proc.send_signal(signal.SIGTERM)
    client.join(10)
    assert result.get("response") == (200, b'{"items":[],"limit":20,"offset":0}'), result
    assert service.proc.wait(10) == 0
    log = service.log()
    assert log.index("Shutting down") < log.index("GET /api/v1/items 200")


def test_fault_exit_after_seconds_exits_with_code_1(
    services: list[ServiceProcess], backends: dict[str, str]
) -> None:
    service = _start(services, {**backends, "FAULT_EXIT_AFTER_SECONDS": "1"})
    assert service.proc is not None
    assert service.proc.wait(15) == 1
    assert "exiting with code 1 (FAULT_EXIT_AFTER_SECONDS)" in service.log()


def test_bad_configuration_stops_with_a_clear_line_and_code_65(
    services: list[ServiceProcess],
) -> None:
    service = _start(services, {"FAULT_ERROR_RATE": "lots"}, wait=False)
    assert service.proc is not None
    assert service.proc.wait(15) == 65
    assert service.log() == (
        "sre-platform: invalid configuration: FAULT_ERROR_RATE='lots' is invalid: "
        "expected a number from 0 to 1\n"
    )


def test_several_workers_report_merged_metrics(
    services: list[ServiceProcess], backends: dict[str, str]
) -> None:
    service = _start(
        services,
        {**backends, "WEB_CONCURRENCY": "2", "APP_VERSION": "9.9.9", "GIT_SHA": "feedbee"},
    )
    wait_until(
        lambda: service.log().count("Application startup complete") == 2,
        "both workers to have started",
        timeout=30,
    )
    for _ in range(40):
        assert _get(f"{service.url}/version")[0] == 200
    _, body = _get(f"{service.url}/metrics")
    text = body.decode()
    count = re.search(
        r'http_requests_total\{method="GET",route="/version",status="200"\} (\S+)', text
    )
    assert count is not None, text
    assert float(count.group(1)) == 40
    assert 'sre_platform_build_info{git_sha="feedbee",version="9.9.9"} 1.0' in text
