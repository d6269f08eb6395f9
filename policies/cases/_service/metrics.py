"""A stand-in service for the rule cases: its metrics are read with the real extractor."""

from prometheus_client import Counter, Gauge, Histogram

REQUESTS = Counter("http_requests_total", "HTTP requests", ["method", "route", "status"])
LATENCY = Histogram(
    "http_request_duration_seconds",
    "HTTP request latency",
    ["method", "route"],
    buckets=(0.005, 0.1, 0.25, 0.5, 1.0),
)
BUILD = Gauge("sre_platform_build_info", "Build information", ["version", "git_sha"])
