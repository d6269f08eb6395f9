"""Service configuration, read only from environment variables.

Every variable is parsed and range-checked once at start-up, so a typo in a Helm value
stops the process with one clear line instead of failing on the first request.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar

import psycopg
from psycopg.conninfo import conninfo_to_dict
from redis.connection import parse_url

T = TypeVar("T")
N = TypeVar("N", int, float)
Parser = Callable[[str], T]  # a raw value -> the setting, or ValueError saying what was expected

LOG_LEVELS = ("debug", "info", "warning", "error", "critical")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


class ConfigError(ValueError):
    """An environment variable holds a value the service cannot use."""


@dataclass(frozen=True)
class Settings:
    """The service's configuration; see docs/service.md for every variable."""

    # All interfaces: in a container the pod IP is the only way in. Tests bind loopback.
    host: str = "0.0.0.0"  # noqa: S104  # nosec B104
    port: int = 8080
    database_url: str = "postgresql://sre_platform@localhost:5432/sre_platform"
    redis_url: str = "redis://localhost:6379/0"
    app_version: str = "dev"
    git_sha: str = "unknown"
    log_level: str = "info"
    fault_error_rate: float = 0.0
    fault_latency_ms: int = 0
    fault_exit_after_seconds: float | None = None
    migrate_on_start: bool = False
    cache_ttl_seconds: int = 60
    db_pool_max_size: int = 10
    # With the chart's 5 s preStop sleep this ends 5 s before the 30 s grace period.
    shutdown_timeout_seconds: int = 20
    web_concurrency: int = 1

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Build settings from `environ` (default: the process environment)."""
        env = os.environ if environ is None else environ
        d = cls()
        return cls(
            host=_read(env, "HOST", d.host, str),
            port=_read(env, "PORT", d.port, _int_in(1, 65535)),
            database_url=_read(env, "DATABASE_URL", d.database_url, _postgres_url, secret=True),
            redis_url=_read(env, "REDIS_URL", d.redis_url, _redis_url, secret=True),
            app_version=_read(env, "APP_VERSION", d.app_version, str),
            git_sha=_read(env, "GIT_SHA", d.git_sha, str),
            log_level=_read(env, "LOG_LEVEL", d.log_level, _log_level),
            fault_error_rate=_read(env, "FAULT_ERROR_RATE", d.fault_error_rate, _rate),
            fault_latency_ms=_read(
                env, "FAULT_LATENCY_MS", d.fault_latency_ms, _int_in(0, 600_000)
            ),
            fault_exit_after_seconds=_read(
                env, "FAULT_EXIT_AFTER_SECONDS", d.fault_exit_after_seconds, _positive_seconds
            ),
            migrate_on_start=_read(env, "MIGRATE_ON_START", d.migrate_on_start, _bool),
            cache_ttl_seconds=_read(
                env, "CACHE_TTL_SECONDS", d.cache_ttl_seconds, _int_in(1, 86_400)
            ),
            db_pool_max_size=_read(env, "DB_POOL_MAX_SIZE", d.db_pool_max_size, _int_in(1, 1000)),
            shutdown_timeout_seconds=_read(
                env, "SHUTDOWN_TIMEOUT_SECONDS", d.shutdown_timeout_seconds, _int_in(0, 3600)
            ),
            web_concurrency=_read(env, "WEB_CONCURRENCY", d.web_concurrency, _int_in(1, 64)),
        )


def _read(
    env: Mapping[str, str],
    name: str,
    default: T,
    parse: Callable[[str], T],
    *,
    secret: bool = False,
) -> T:
    # An empty value means "unset": Helm renders absent values as empty strings.
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        return parse(raw)
    except ValueError as exc:
        shown = "<redacted>" if secret else repr(raw)
        raise ConfigError(f"{name}={shown} is invalid: {exc}") from None


def _checked(convert: Callable[[str], N], ok: Callable[[N], bool], expected: str) -> Parser[N]:
    """A parser that converts, then checks the value; either failing says what was expected."""

    def parse(raw: str) -> N:
        try:
            value = convert(raw)
        except ValueError:
            raise ValueError(expected) from None
        if not ok(value):
            raise ValueError(expected)
        return value

    return parse


def _int_in(low: int, high: int) -> Parser[int]:
    return _checked(int, lambda v: low <= v <= high, f"expected an integer from {low} to {high}")


_rate = _checked(float, lambda v: 0.0 <= v <= 1.0, "expected a number from 0 to 1")
# NaN and infinity are numbers to float() but no timeout.
_positive_seconds = _checked(
    float, lambda v: 0.0 < v < math.inf, "expected a number of seconds greater than 0"
)


def _bool(raw: str) -> bool:
    lowered = raw.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ValueError("expected true or false")


def _log_level(raw: str) -> str:
    lowered = raw.lower()
    if lowered not in LOG_LEVELS:
        raise ValueError(f"expected one of {', '.join(LOG_LEVELS)}")
    return lowered


def _url(*schemes: str) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        scheme, sep, _ = raw.partition("://")
        if not sep or scheme not in schemes:
            raise ValueError(
                f"expected a URL starting with {' or '.join(s + '://' for s in schemes)}"
            )
        return raw

    return parse


def _postgres_url(raw: str) -> str:
    """A libpq URL that parses; checked here so that a typo is a start-up error."""
    _url("postgresql", "postgres")(raw)
    try:
        params = conninfo_to_dict(raw)
    except psycopg.ProgrammingError as exc:
        # libpq quotes the URL after " in URI"; it may hold a password.
        raise ValueError(str(exc).split(" in URI")[0].strip()) from None
    port = str(params.get("port", "5432"))
    if not all(p.isdigit() and 0 < int(p) < 65536 for p in port.split(",")):
        raise ValueError("the port is not a number from 1 to 65535")
    return raw


def _redis_url(raw: str) -> str:
    _url("redis", "rediss", "unix")(raw)
    try:
        parse_url(raw)  # type: ignore[no-untyped-call]  # untyped upstream
    except ValueError as exc:
        raise ValueError(str(exc)) from None
    return raw
