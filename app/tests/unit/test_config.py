"""Settings come only from the environment, and bad values stop the process clearly."""

from __future__ import annotations

import pytest

from sre_platform.config import ConfigError, Settings


def test_defaults_when_nothing_is_set() -> None:
    settings = Settings.from_env({})
    assert settings == Settings()
    assert settings.port == 8080
    assert settings.fault_error_rate == 0.0
    assert settings.fault_latency_ms == 0
    assert settings.fault_exit_after_seconds is None
    assert settings.migrate_on_start is False


def test_every_variable_is_read() -> None:
    settings = Settings.from_env(
        {
            "HOST": "127.0.0.1",
            "PORT": "9090",
            "DATABASE_URL": "postgresql://u@db:5432/app",
            "REDIS_URL": "redis://cache:6379/1",
            "APP_VERSION": "1.4.0",
            "GIT_SHA": "0123abc",
            "LOG_LEVEL": "WARNING",
            "FAULT_ERROR_RATE": "0.25",
            "FAULT_LATENCY_MS": "300",
            "FAULT_EXIT_AFTER_SECONDS": "12.5",
            "MIGRATE_ON_START": "True",
            "CACHE_TTL_SECONDS": "30",
            "DB_POOL_MAX_SIZE": "4",
            "SHUTDOWN_TIMEOUT_SECONDS": "10",
            "WEB_CONCURRENCY": "2",
        }
    )
    assert settings == Settings(
        host="127.0.0.1",
        port=9090,
        database_url="postgresql://u@db:5432/app",
        redis_url="redis://cache:6379/1",
        app_version="1.4.0",
        git_sha="0123abc",
        log_level="warning",
        fault_error_rate=0.25,
        fault_latency_ms=300,
        fault_exit_after_seconds=12.5,
        migrate_on_start=True,
        cache_ttl_seconds=30,
        db_pool_max_size=4,
        shutdown_timeout_seconds=10,
        web_concurrency=2,
    )


def test_empty_values_mean_unset() -> None:
    # Helm renders an absent value as an empty string.
    assert Settings.from_env({"FAULT_EXIT_AFTER_SECONDS": "", "PORT": " "}) == Settings()


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("PORT", "http", "PORT='http' is invalid: expected an integer from 1 to 65535"),
        ("PORT", "0", "PORT='0' is invalid: expected an integer from 1 to 65535"),
        ("FAULT_ERROR_RATE", "1.5", "FAULT_ERROR_RATE='1.5' is invalid: expected a number from 0"),
        ("FAULT_ERROR_RATE", "half", "FAULT_ERROR_RATE='half' is invalid"),
        ("FAULT_LATENCY_MS", "-1", "FAULT_LATENCY_MS='-1' is invalid"),
        ("FAULT_EXIT_AFTER_SECONDS", "0", "FAULT_EXIT_AFTER_SECONDS='0' is invalid"),
        ("FAULT_EXIT_AFTER_SECONDS", "nan", "FAULT_EXIT_AFTER_SECONDS='nan' is invalid"),
        ("FAULT_EXIT_AFTER_SECONDS", "soon", "FAULT_EXIT_AFTER_SECONDS='soon' is invalid"),
        ("LOG_LEVEL", "verbose", "LOG_LEVEL='verbose' is invalid: expected one of debug"),
        ("MIGRATE_ON_START", "maybe", "MIGRATE_ON_START='maybe' is invalid: expected true or"),
        ("WEB_CONCURRENCY", "0", "WEB_CONCURRENCY='0' is invalid"),
    ],
)
def test_invalid_values_name_the_variable(name: str, value: str, expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({name: value})
    assert expected in str(caught.value)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DATABASE_URL", "mysql://root:hunter2@db/app"),
        ("DATABASE_URL", "postgresql://root:hunter2@db/app?bogus=1"),
        ("DATABASE_URL", "postgresql://root:hunter2@[db/app"),
        ("DATABASE_URL", "postgresql://root:hunter2@db:port/app"),
        ("REDIS_URL", "memcached://:hunter2@cache"),
        ("REDIS_URL", "redis://:hunter2@cache:port/0"),
    ],
)
def test_bad_urls_are_refused_without_echoing_credentials(name: str, value: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({name: value})
    assert f"{name}=<redacted> is invalid" in str(caught.value)
    assert "hunter2" not in str(caught.value)
