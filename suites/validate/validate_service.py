"""HTTP access to the service under validation: its base URL, a timeout, one session."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import requests


@dataclass
class Service:
    base_url: str
    timeout: float
    session: requests.Session = field(default_factory=requests.Session)

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """One request; a transport error becomes an AssertionError naming the URL."""
        __tracebackhide__ = True
        url = f"{self.base_url}{path}"
        try:
            return self.session.request(method, url, timeout=self.timeout, **kwargs)
        except requests.RequestException as error:
            raise AssertionError(
                f"{method} {url} to answer, is {type(error).__name__}: {error}"
            ) from None

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        __tracebackhide__ = True
        return self.request("GET", path, **kwargs)

    def timed_get(self, path: str) -> tuple[int, float]:
        """(status, seconds) of one GET; status 0 when the request did not complete."""
        start = time.perf_counter()
        try:
            status = self.session.get(f"{self.base_url}{path}", timeout=self.timeout).status_code
        except requests.RequestException:
            status = 0
        return status, time.perf_counter() - start


def describe(response: requests.Response) -> str:
    """`HTTP 503: {"status": ...}` (the body shortened) for messages."""
    body = " ".join(response.text.split())
    return f"HTTP {response.status_code}{': ' + body[:160] if body else ''}"


def quantile(values: list[float], q: float) -> float:
    """Nearest-rank quantile (p99 of 50 samples is the largest one)."""
    ordered = sorted(values)
    rank = min(max(1, math.ceil(q * len(ordered))), len(ordered))
    return ordered[rank - 1]
