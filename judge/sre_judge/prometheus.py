"""Raw samples from the Prometheus HTTP API (stdlib only: the image stays small).

The judge reads range selectors (`metric{...}[120s]` as an instant query at the window's
end): the scraped samples themselves, not `increase()`'s extrapolated values, so the
counts it tests are whole requests (series.py turns them into window increases).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any


class PrometheusUnreachable(RuntimeError):
    """No answer: connection refused, DNS, timeout, or something that is not Prometheus."""


class PrometheusError(RuntimeError):
    """Prometheus answered and refused the query (its own message is kept)."""


@dataclass(frozen=True)
class Series:
    """One series' samples, oldest first: (unix seconds, value)."""

    labels: dict[str, str]
    samples: tuple[tuple[float, float], ...]


def string_literal(text: str) -> str:
    """A PromQL double-quoted string holding `text` exactly."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


class Prometheus:
    def __init__(self, url: str, timeout: float = 10.0) -> None:
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"Prometheus URL {url!r} is not http(s)")
        self.url = url.rstrip("/")
        self.timeout = timeout

    def __repr__(self) -> str:
        return f"Prometheus({self.url!r})"

    def _get(self, path: str, params: dict[str, str]) -> Any:
        address = f"{self.url}{path}?{urllib.parse.urlencode(params)}"
        # http(s) only: checked in __init__.
        request = urllib.request.Request(address, headers={"Accept": "application/json"})  # noqa: S310  # nosec B310
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310  # nosec B310
                body = response.read()
        except urllib.error.HTTPError as err:
            body = err.read()
            # 400/422/503 carry Prometheus' JSON error; anything else is not Prometheus.
            if err.code not in (400, 422, 503):
                raise PrometheusUnreachable(
                    f"{self.url} answered HTTP {err.code} to {path}: not a Prometheus API?"
                ) from None
        except (TimeoutError, urllib.error.URLError, OSError) as err:
            reason = getattr(err, "reason", err)
            raise PrometheusUnreachable(f"{self.url} is unreachable: {reason}") from None
        try:
            data = json.loads(body)
        except ValueError:
            raise PrometheusUnreachable(
                f"{self.url}{path} did not answer JSON: not a Prometheus API?"
            ) from None
        if not isinstance(data, dict) or data.get("status") != "success":
            message = data.get("error", data) if isinstance(data, dict) else data
            raise PrometheusError(f"Prometheus refused the query: {message}")
        return data.get("data")

    def range_selector(self, selector: str, seconds: float, at: float) -> list[Series]:
        """Every series of `selector` with its samples in (at - seconds, at]."""
        query = f"{selector}[{round(seconds * 1000)}ms]"
        data = self._get("/api/v1/query", {"query": query, "time": f"{at:.3f}"})
        if not isinstance(data, dict) or data.get("resultType") != "matrix":
            raise PrometheusError(f"expected a matrix for {query}, got {data!r:.200}")
        out = []
        for item in data.get("result") or []:
            samples = tuple((float(t), float(v)) for t, v in item.get("values") or [])
            out.append(Series(dict(item.get("metric") or {}), samples))
        return out

    def ready(self) -> None:
        """Raise unless Prometheus answers its API (buildinfo)."""
        self._get("/api/v1/status/buildinfo", {})
