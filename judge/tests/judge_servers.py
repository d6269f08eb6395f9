"""Real processes for the judge's integration tests and its bench: Prometheus (Debian's
binary, own config and storage on a free port), the judge (`python -m sre_judge serve`),
and a small exporter that serves GENERATED series of the service's metrics for pods of
several revisions, each with known latency and error distributions.

The exporter stands in for the service's pods only: Prometheus scrapes it for real, and
the judge reads Prometheus through its HTTP API like in a cluster.
"""

from __future__ import annotations

import math
import os
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import yaml
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from sre_platform.metrics import DURATION_BUCKETS
from tests.localservers import REPO_ROOT, LocalProcess, ServerError, free_port

JUDGE_DIR = REPO_ROOT / "judge"
ROUTE = "/api/v1/items"


# ---- generated pods --------------------------------------------------------------------


@dataclass
class SyntheticPod:
    """One pod of one revision: every scrape it has served `per_scrape` more requests
    whose latencies come from `latency(rng, n)` and a share `error_rate` of which failed;
    it exists (is exported) from `start` to `stop` seconds after the exporter started."""

    namespace: str
    name: str
    revision: str
    latency: Callable[[np.random.Generator, int], npt.NDArray[np.float64]]
    error_rate: float = 0.0
    per_scrape: int = 100
    start: float = 0.0
    stop: float = math.inf
    version: str = "1.0.0"
    buckets: npt.NDArray[np.float64] = field(init=False)
    total: float = 0.0
    statuses: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.buckets = np.zeros(len(DURATION_BUCKETS) + 1)

    def serve(self, rng: np.random.Generator) -> None:
        values = self.latency(rng, self.per_scrape)
        index = np.searchsorted(np.array([*DURATION_BUCKETS, math.inf]), values, side="left")
        self.buckets += np.bincount(index, minlength=len(self.buckets))
        self.total += float(values.sum())
        failed = int(rng.binomial(self.per_scrape, self.error_rate))
        for status, count in (("200", self.per_scrape - failed), ("500", failed)):
            if count:
                self.statuses[status] = self.statuses.get(status, 0.0) + count

    @property
    def labels(self) -> dict[str, str]:
        return {
            "namespace": self.namespace,
            "pod": self.name,
            "rollouts_pod_template_hash": self.revision,
        }


class _PodsCollector(Collector):
    def __init__(self, exporter: SyntheticExporter) -> None:
        self.exporter = exporter

    def collect(self) -> Iterator[Any]:
        pods = self.exporter.scrape()
        names = ["namespace", "pod", "rollouts_pod_template_hash"]
        info = GaugeMetricFamily(
            "sre_platform_build_info", "build", labels=[*names, "version", "git_sha"]
        )
        requests = CounterMetricFamily(
            "http_requests_total", "requests", labels=[*names, "method", "route", "status"]
        )
        duration = HistogramMetricFamily(
            "http_request_duration_seconds", "latency", labels=[*names, "method", "route"]
        )
        for pod in pods:
            values = list(pod.labels.values())
            info.add_metric([*values, pod.version, "0" * 40], 1)
            for status, count in sorted(pod.statuses.items()):
                requests.add_metric([*values, "GET", ROUTE, status], count)
            cumulative = np.cumsum(pod.buckets)
            bounds = [floatToGoString(b) for b in (*DURATION_BUCKETS, math.inf)]
            duration.add_metric(
                [*values, "GET", ROUTE],
                list(zip(bounds, (float(c) for c in cumulative), strict=True)),
                pod.total,
            )
        yield from (info, requests, duration)


class SyntheticExporter:
    """`/metrics` on a free loopback port for the pods given; each scrape advances them."""

    def __init__(self, pods: list[SyntheticPod], seed: int = 1) -> None:
        self.pods = pods
        self.rng = np.random.default_rng(seed)
        self.started: float | None = None  # the first scrape: pods' start/stop count from it
        self.scrapes = 0
        self._lock = threading.Lock()
        registry = CollectorRegistry(auto_describe=False)
        registry.register(_PodsCollector(self))
        self.port = free_port()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = generate_latest(registry)
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    def scrape(self) -> list[SyntheticPod]:
        with self._lock:
            if self.started is None:
                self.started = time.monotonic()
            self.scrapes += 1
            age = time.monotonic() - self.started
            live = [p for p in self.pods if p.start <= age < p.stop]
            for pod in live:
                pod.serve(self.rng)
            return live

    def __enter__(self) -> SyntheticExporter:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


# ---- Prometheus --------------------------------------------------------------------------


class PrometheusServer(LocalProcess):
    """Debian's prometheus scraping every `interval`: `targets` that label their own series
    (honor_labels), `labelled_targets` (static_configs entries: `{"targets": [...], "labels":
    {...}}`), or nothing but a given storage directory (a replay of backfilled blocks)."""

    def __init__(
        self,
        targets: list[str] | None = None,
        interval: str = "1s",
        storage: Path | None = None,
        labelled_targets: list[dict[str, Any]] | None = None,
    ) -> None:
        binary = shutil.which("prometheus")
        if binary is None:
            raise ServerError("prometheus not found; run `make setup` (Debian prometheus)")
        super().__init__(Path(tempfile.mkdtemp(prefix="sre-judge-prometheus-")))
        self.binary = binary
        self.storage = storage or self.base / "data"
        self.port = free_port()
        config: dict[str, Any] = {"global": {"scrape_interval": interval}, "scrape_configs": []}
        if targets:
            config["scrape_configs"].append(
                {
                    "job_name": "pods",
                    "honor_labels": True,
                    "scrape_interval": interval,
                    "static_configs": [{"targets": targets}],
                }
            )
        if labelled_targets:
            # Real processes: Prometheus adds the pod's labels, as a Kubernetes scrape would.
            config["scrape_configs"].append(
                {
                    "job_name": "labelled",
                    "scrape_interval": interval,
                    "static_configs": labelled_targets,
                }
            )
        (self.base / "prometheus.yml").write_text(yaml.safe_dump(config))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        argv = [
            self.binary,
            f"--config.file={self.base / 'prometheus.yml'}",
            f"--storage.tsdb.path={self.storage}",
            # A replayed recording is older than the default 15 days: keep it.
            "--storage.tsdb.retention.time=100y",
            f"--web.listen-address=127.0.0.1:{self.port}",
            "--log.level=warn",
        ]
        self._spawn(argv)
        self._await(self._ready, f"Prometheus on port {self.port} to be ready", 60, log_lines=30)

    def _ready(self) -> bool:
        return self._answers(f"{self.url}/-/ready", "prometheus", log_lines=30)


# ---- the judge ---------------------------------------------------------------------------


class JudgeProcess(LocalProcess):
    """`python -m sre_judge serve` on a free loopback port, reading `prometheus_url`."""

    def __init__(self, prometheus_url: str) -> None:
        super().__init__(Path(tempfile.mkdtemp(prefix="sre-judge-")))
        self.port = free_port()
        self.env = {
            **os.environ,
            "PYTHONPATH": str(JUDGE_DIR),
            "PROMETHEUS_URL": prometheus_url,
            "HOST": "127.0.0.1",
            "PORT": str(self.port),
            "LOG_LEVEL": "info",
        }

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self._spawn([sys.executable, "-m", "sre_judge", "serve"], env=self.env)
        self._await(self._healthy, f"sre-judge on port {self.port} to answer", 30, log_lines=30)

    def _healthy(self) -> bool:
        return self._answers(f"{self.url}/healthz", "sre-judge", log_lines=30)
