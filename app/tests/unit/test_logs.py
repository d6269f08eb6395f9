"""Logs are one JSON object per line, with the fields passed as `extra`."""

from __future__ import annotations

import json
import logging

from sre_platform.logs import JsonFormatter, logging_config


def _record(**extra: object) -> logging.LogRecord:
    record = logging.LogRecord(
        "sre_platform.test", logging.WARNING, __file__, 1, "hello %s", ("x",), None
    )
    record.__dict__.update(extra)
    return record


def test_a_record_is_one_json_line_with_its_extra_fields() -> None:
    line = JsonFormatter().format(_record(route="/api/v1/items", status=503, color_message="ansi"))
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["level"] == "warning"
    assert entry["logger"] == "sre_platform.test"
    assert entry["message"] == "hello x"
    assert entry["route"] == "/api/v1/items"
    assert entry["status"] == 503
    assert "color_message" not in entry
    assert entry["ts"].endswith("+00:00")


def test_exceptions_are_kept_inside_the_json_object() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        import sys

        record = logging.LogRecord("t", logging.ERROR, __file__, 1, "failed", None, sys.exc_info())
    entry = json.loads(JsonFormatter().format(record))
    assert "ValueError: boom" in entry["exception"]


def test_logging_config_routes_uvicorn_through_the_json_formatter() -> None:
    config = logging_config("debug")
    assert config["root"]["level"] == "DEBUG"
    assert config["loggers"]["uvicorn.error"] == {"handlers": [], "propagate": True}
    # uvicorn's access log is replaced by sre_platform.access.
    assert config["loggers"]["uvicorn.access"]["propagate"] is False
