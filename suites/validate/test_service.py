"""The service as a client sees it: probes, the version it reports, an API round trip,
and with --full a bounded latency probe."""

from __future__ import annotations

import uuid

import pytest
import requests

from fixtures.core.rollout import image_tag_of as image_tag
from fixtures.validate.environment import Environment
from fixtures.validate.options import ValidateOptions
from fixtures.validate.service import Service, describe, quantile
from fixtures.validate.state import Workload, short
from fixtures.validate.summary import CheckRecord

ITEMS = "/api/v1/items"
ROUND_TRIP = "201, 200, 204, 404"  # the answers of create, read, delete, read again


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
@pytest.mark.check("GET {path}")
def test_probe_endpoint(service: Service, path: str, check: CheckRecord) -> None:
    response = service.get(path)
    check.record(describe(response), "HTTP 200")
    check.expect(
        None
        if response.status_code == 200
        else f"GET {service.base_url}{path} to answer 200, answers {describe(response)}"
    )


@pytest.mark.check("GET /version == deployed")
def test_version_is_deployed(service: Service, workload: Workload, check: CheckRecord) -> None:
    """/version reports the tag of the image the workload runs (APP_VERSION from image.tag)."""
    deployed = image_tag(workload.image)
    response = service.get("/version")
    try:
        reported = response.json().get("version")
    except ValueError:
        reported = None
    check.record(short(reported) if reported is not None else describe(response), short(deployed))
    check.expect(
        None
        if response.status_code == 200 and reported == deployed
        else f"GET {service.base_url}/version to report version {deployed} (the image tag of "
        f"{workload.ref}), reports {reported!r} ({describe(response)}): requests reach another "
        f"version than the one deployed"
    )


@pytest.mark.check("API round trip")
def test_api_smoke_round_trip(
    service: Service, environment: Environment, validate_options: ValidateOptions,
    check: CheckRecord,
) -> None:  # fmt: skip
    """Create, read and delete one item; the item is deleted whatever happens."""
    if validate_options.read_only or not environment.api_write:
        reason = (
            "read-only run (--read-only)"
            if environment.api_write
            else f"smoke.api_write is false in {environment.file.name}"
        )
        check.expected(ROUND_TRIP)
        pytest.skip(reason)
    name = f"validate-smoke-{uuid.uuid4().hex[:12]}"
    steps: list[str] = []

    def answered(method: str, response: requests.Response) -> requests.Response:
        steps.append(f"{method} {response.status_code}")
        check.record(", ".join(steps), ROUND_TRIP)
        return response

    created = service.request("POST", ITEMS, json={"name": name, "description": "validate tier"})
    check.record(f"POST {describe(created)}", ROUND_TRIP)
    check.expect(
        None
        if created.status_code == 201
        else f"POST {ITEMS} to answer 201, answers {describe(created)}"
    )
    item_id = created.json()["id"]
    steps.append(f"POST {created.status_code}")
    try:
        read = answered("GET", service.get(f"{ITEMS}/{item_id}"))
        check.expect(
            None
            if read.status_code == 200 and read.json().get("name") == name
            else f"GET {ITEMS}/{item_id} to return the item just created ({name}), "
            f"returns {describe(read)}"
        )
    finally:
        deleted = answered("DELETE", service.request("DELETE", f"{ITEMS}/{item_id}"))
    check.expect(
        None
        if deleted.status_code == 204
        else f"DELETE {ITEMS}/{item_id} to answer 204, answers {describe(deleted)} "
        f"(item {name} may be left behind)"
    )
    gone = answered("GET", service.get(f"{ITEMS}/{item_id}"))
    check.expect(
        None
        if gone.status_code == 404
        else f"GET {ITEMS}/{item_id} after the delete to answer 404, answers {describe(gone)}"
    )


def test_latency_probe(
    service: Service, environment: Environment, validate_options: ValidateOptions,
    check: CheckRecord,
) -> None:  # fmt: skip
    """--full: a fixed number of sequential reads; all 2xx and their p99 under the SLO."""
    limit = environment.slo.latency_p99_max_seconds
    threshold = f"all 2xx, p99 < {limit:g}s"
    probe_requests = validate_options.probe_requests
    if not validate_options.full:
        check.expected(threshold)
        pytest.skip("the latency probe runs with --full")
    results = [service.timed_get(f"{ITEMS}?limit=1") for _ in range(probe_requests)]
    errors = [status for status, _ in results if not 200 <= status < 300]
    p99 = quantile([seconds for _, seconds in results], 0.99)
    check.record(f"p99 {p99:.3f}s over {probe_requests} requests, {len(errors)} not 2xx", threshold)
    check.expect(
        None
        if not errors
        else f"every GET {ITEMS}?limit=1 to answer 2xx, {len(errors)} of {probe_requests} did not "
        f"(statuses {sorted(set(errors))}; 0 = no answer within {service.timeout:g}s)"
    )
    check.expect(
        None
        if p99 < limit
        else f"the probe's p99 latency to be below {limit:g}s (slo.latency_p99_max_seconds), "
        f"is {p99:.3f}s over {probe_requests} requests"
    )
