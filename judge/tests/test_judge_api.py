"""The HTTP layer in-process: a bug inside the judge is a JSON 500, never a traceback."""

from __future__ import annotations

from fastapi.testclient import TestClient

from sre_judge.api import create_app
from sre_judge.prometheus import Prometheus, Series


class _Broken(Prometheus):
    """A judge component that fails unexpectedly (a bug), not a Prometheus answer."""

    def range_selector(self, selector: str, seconds: float, at: float) -> list[Series]:
        raise ZeroDivisionError("division by zero somewhere inside")


def test_an_internal_error_is_a_json_500_without_traceback() -> None:
    client = TestClient(create_app(_Broken("http://127.0.0.1:9")), raise_server_exceptions=False)
    body = {"namespace": "ns", "canaryHash": "abc1", "baselineHash": "def2"}
    response = client.post("/v1/judge", json=body)
    assert response.status_code == 500
    assert response.json()["error"] == "internal"
    assert "ZeroDivisionError" in response.json()["message"]
    assert "Traceback" not in response.text and "inside" not in response.text


def test_the_contract_is_published_as_openapi() -> None:
    client = TestClient(create_app(Prometheus("http://127.0.0.1:9")))
    schema = client.get("/openapi.json").json()
    request = schema["components"]["schemas"]["JudgeRequest"]["properties"]
    assert {"namespace", "canaryHash", "baselineHash", "window", "latencyTail"} <= set(request)
    assert client.get("/healthz").json() == {"status": "ok"}
