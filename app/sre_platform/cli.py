"""Command line: `serve` (the default) runs the HTTP server, `migrate` the schema migrations.

Exit codes follow docs/interfaces.md: 0 ok, 1 the process crashed on purpose
(FAULT_EXIT_AFTER_SECONDS), 64 bad arguments, 65 bad configuration or migrations,
69 PostgreSQL unreachable, 70 internal error (a bug).
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import signal
import sys
import tempfile
import time
from types import FrameType
from typing import NoReturn

from . import logs
from .config import ConfigError, Settings
from .database import DatabaseUnavailable
from .migrate import MigrationError, migrate

EX_USAGE = 64
EX_DATAERR = 65
EX_UNAVAILABLE = 69
EX_SOFTWARE = 70
# How long `serve` waits for PostgreSQL when MIGRATE_ON_START is set: a database that
# comes up a little after the pod should not cost a restart.
MIGRATE_ON_START_WAIT_SECONDS = 30.0

log = logging.getLogger("sre_platform")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EX_USAGE, f"{self.prog}: error: {message}\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="python -m sre_platform",
        description="The sre-platform service. Configuration comes from environment "
        "variables only (see docs/service.md).",
        epilog="exit codes: 0 ok, 1 crashed on purpose (FAULT_EXIT_AFTER_SECONDS), "
        "64 bad arguments, 65 bad configuration or migrations, 69 PostgreSQL unreachable, "
        "70 internal error",
    )
    commands = parser.add_subparsers(dest="command", metavar="{serve,migrate}")
    commands.add_parser("serve", help="run the HTTP server (the default)")
    migrate_cmd = commands.add_parser("migrate", help="apply pending schema migrations and exit")
    migrate_cmd.add_argument(
        "--wait",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="keep retrying an unreachable PostgreSQL this long (default: 0, fail at once)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = Settings.from_env()
    except ConfigError as exc:
        print(f"sre-platform: invalid configuration: {exc}", file=sys.stderr)
        return EX_DATAERR
    logs.configure(settings.log_level)
    try:
        if args.command == "migrate":
            return run_migrations(settings, wait_seconds=args.wait)
        return serve(settings)
    except Exception:
        log.exception("internal error (a bug: please report it)")
        return EX_SOFTWARE


def run_migrations(settings: Settings, wait_seconds: float) -> int:
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            applied = migrate(settings.database_url)
        except MigrationError as exc:
            log.error("migrations refused: %s", exc)
            return EX_DATAERR
        except DatabaseUnavailable as exc:
            if time.monotonic() >= deadline:
                log.error("cannot migrate, PostgreSQL is unreachable: %s", exc)
                return EX_UNAVAILABLE
            log.warning("PostgreSQL unreachable, retrying: %s", exc)
            time.sleep(1)
            continue
        log.info(
            "schema up to date (%d migration(s) applied now)",
            len(applied),
            extra={"applied": applied},
        )
        return 0


def serve(settings: Settings) -> int:
    import uvicorn

    if settings.migrate_on_start:
        status = run_migrations(settings, wait_seconds=MIGRATE_ON_START_WAIT_SECONDS)
        if status:
            return status
    multiproc_dir = None
    if settings.web_concurrency > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # Each worker is its own process; prometheus_client merges their counters through
        # files in this directory, which must exist before the workers import the metrics.
        multiproc_dir = tempfile.mkdtemp(prefix="sre-platform-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = multiproc_dir
    if settings.web_concurrency > 1 and settings.fault_exit_after_seconds:
        log.warning("with WEB_CONCURRENCY > 1 an exiting worker is restarted, not the process")
    # uvicorn re-raises the SIGTERM it handled once shutdown is complete; this handler
    # turns that into exit code 0, so a graceful stop does not look like a crash.
    signal.signal(signal.SIGTERM, _exit_cleanly)
    signal.signal(signal.SIGINT, _exit_cleanly)
    try:
        uvicorn.run(
            "sre_platform.app:create_app",
            factory=True,
            host=settings.host,
            port=settings.port,
            workers=settings.web_concurrency,
            log_config=logs.logging_config(settings.log_level),
            access_log=False,  # MetricsMiddleware writes a richer access log
            server_header=False,
            timeout_graceful_shutdown=settings.shutdown_timeout_seconds,
        )
    finally:
        if multiproc_dir:
            shutil.rmtree(multiproc_dir, ignore_errors=True)
    return 0


def _exit_cleanly(signum: int, frame: FrameType | None) -> NoReturn:
    raise SystemExit(0)
