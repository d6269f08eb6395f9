"""Real PostgreSQL, Redis and sre-platform processes on loopback, for tests and benchmarks.

Each server lives in its own temporary directory on a free port and is stopped (and its
directory removed) by `stop()`/`cleanup()`. PostgreSQL refuses to run as root, so when
we are root it runs as the `postgres` system user, in a directory that user owns.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Self

import psycopg
import redis

REPO_ROOT = Path(__file__).resolve().parents[2]


class ServerError(RuntimeError):
    """A local server could not be started; the message carries its log's tail."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(predicate: Callable[[], bool], description: str, timeout: float = 30.0) -> None:
    """Poll `predicate` until it is true; raise `TimeoutError("timeout waiting for: ...")`."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"timeout waiting for: {description}")
        time.sleep(0.05)


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _postgres_bin() -> Path:
    explicit = os.environ.get("PG_BIN")
    candidates = [Path(explicit)] if explicit else []
    candidates += sorted(
        Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name), reverse=True
    )
    for directory in candidates:
        if (directory / "postgres").is_file() and (directory / "initdb").is_file():
            return directory
    raise ServerError(
        "PostgreSQL server binaries not found (looked in $PG_BIN and /usr/lib/postgresql/*/bin); "
        "run `make setup` to install the Debian package postgresql"
    )


class LocalProcess:
    """A child process with its log file; stop() sends `stop_signal` and waits. The judge's
    test servers (judge/tests/judge_servers.py) build on it too."""

    stop_signal = signal.SIGTERM

    def __init__(self, base: Path) -> None:
        self.base = base
        self.log_path = base / "server.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def pid(self) -> int:
        if self.proc is None:
            raise ServerError(f"{type(self).__name__} was never started")
        return self.proc.pid

    def start(self) -> None:
        """Spawn the process (`_spawn`) and wait until it serves (`_await`)."""
        raise NotImplementedError

    def _spawn(
        self, argv: list[str], user: str | None = None, env: Mapping[str, str] | None = None
    ) -> None:
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                argv,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                user=user,
                group=user,
                extra_groups=[] if user else None,
                # Own process group: a Ctrl-C in the terminal must not kill it before us.
                start_new_session=True,
            )

    def _await(
        self, ready: Callable[[], bool], description: str, timeout: float, log_lines: int = 20
    ) -> None:
        """Wait until `ready()`; on a timeout stop the process and raise with its log's tail."""
        try:
            wait_until(ready, description, timeout)
        except TimeoutError as exc:
            self.stop()
            raise ServerError(f"{exc}\n{_tail(self.log_path, log_lines)}") from None

    def _answers(self, url: str, name: str, log_lines: int = 20) -> bool:
        """Whether `url` answers 200 (a readiness poll); ServerError with the log's tail once
        the process has exited, so a crash is not waited out."""
        if not self.running:
            raise ServerError(
                f"{name} exited ({self.returncode}):\n{_tail(self.log_path, log_lines)}"
            )
        try:
            with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310
                return bool(response.status == 200)
        except OSError:  # urllib's URLError included
            return False

    @property
    def returncode(self) -> int | None:
        return None if self.proc is None else self.proc.poll()

    def stop(self, timeout: float = 30.0) -> None:
        if not self.running:
            return
        assert self.proc is not None
        self.proc.send_signal(self.stop_signal)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.base, ignore_errors=True)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.cleanup()


class PostgresServer(LocalProcess):
    """A throw-away PostgreSQL cluster. `durable=False` trades crash safety for speed."""

    stop_signal = signal.SIGINT  # "fast" shutdown: abort sessions, then stop cleanly

    def __init__(self, *, durable: bool = False) -> None:
        self.bin = _postgres_bin()  # before creating anything that would need cleaning up
        super().__init__(Path(tempfile.mkdtemp(prefix="sre-platform-pg-")))
        self.port = free_port()
        self.durable = durable
        self.user = "postgres" if os.geteuid() == 0 else None
        self.data = self.base / "data"
        self.socket_dir = self.base / "socket"
        self.socket_dir.mkdir()
        if self.user:
            entry = pwd.getpwnam(self.user)
            for path in (self.base, self.socket_dir):
                os.chown(path, entry.pw_uid, entry.pw_gid)
        self.log_path.touch()
        if self.user:
            os.chown(self.log_path, pwd.getpwnam(self.user).pw_uid, -1)
        try:
            self._initdb()
        except ServerError:
            shutil.rmtree(self.base, ignore_errors=True)
            raise

    def _initdb(self) -> None:
        argv = [str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres"]
        argv += ["--auth=trust", "--encoding=UTF8", "--locale=C", "--no-sync"]
        result = subprocess.run(
            argv,
            capture_output=True,
            text=True,
            user=self.user,
            group=self.user,
            extra_groups=[] if self.user else None,
            check=False,
        )
        if result.returncode != 0:
            raise ServerError(f"initdb failed ({result.returncode}):\n{result.stderr[-2000:]}")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        argv = [str(self.bin / "postgres"), "-D", str(self.data), "-p", str(self.port)]
        argv += ["-k", str(self.socket_dir), "-c", "listen_addresses=127.0.0.1"]
        argv += ["-c", "max_connections=200", "-c", "log_min_messages=warning"]
        if not self.durable:
            argv += ["-c", "fsync=off", "-c", "synchronous_commit=off"]
            argv += ["-c", "full_page_writes=off"]
        self._spawn(argv, user=self.user)
        self._await(self._accepts, f"PostgreSQL on port {self.port} to accept connections", 30.0)

    def _accepts(self) -> bool:
        if not self.running:
            raise ServerError(f"PostgreSQL exited:\n{_tail(self.log_path)}")
        try:
            psycopg.connect(self.url(), connect_timeout=1).close()
        except psycopg.OperationalError:
            return False
        return True

    def create_database(self, name: str) -> str:
        """Create (or re-create, empty) database `name`; return its URL."""
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


class RedisServer(LocalProcess):
    def __init__(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise ServerError("redis-server not found; run `make setup` (Debian redis-server)")
        self.binary = binary
        super().__init__(Path(tempfile.mkdtemp(prefix="sre-platform-redis-")))
        self.port = free_port()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        argv = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1"]
        argv += ["--dir", str(self.base), "--save", "", "--appendonly", "no"]
        argv += ["--daemonize", "no", "--protected-mode", "no"]
        self._spawn(argv)
        self._await(self._accepts, f"Redis on port {self.port} to answer PING", 15.0)

    def _accepts(self) -> bool:
        if not self.running:
            raise ServerError(f"redis-server exited:\n{_tail(self.log_path)}")
        try:
            return bool(redis.Redis.from_url(self.url, socket_timeout=1).ping())
        except redis.RedisError:
            return False

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url, socket_timeout=5)


class ServiceProcess(LocalProcess):
    """`python -m sre_platform serve` as a real process on a loopback port."""

    def __init__(self, env: Mapping[str, str], *, port: int | None = None) -> None:
        super().__init__(Path(tempfile.mkdtemp(prefix="sre-platform-svc-")))
        self.port = port or free_port()
        self.env = {
            **os.environ,
            "HOST": "127.0.0.1",
            "PORT": str(self.port),
            "PYTHONPATH": str(REPO_ROOT / "app"),
            **env,
        }

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, *, wait: bool = True, timeout: float = 30.0) -> None:
        self._spawn([sys.executable, "-m", "sre_platform", "serve"], env=self.env)
        if wait:
            description = f"sre-platform on port {self.port} to answer /healthz"
            self._await(self._healthy, description, timeout, log_lines=40)

    def _healthy(self) -> bool:
        return self._answers(f"{self.url}/healthz", "sre-platform", log_lines=40)
