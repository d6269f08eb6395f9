"""Recorded Prometheus series: "record once, replay" for the judge's bench and tests.

A recording is the raw samples Prometheus scraped from real processes (the service's own
`/metrics`), stored compactly: per series its labels, first timestamp and value, then the
deltas (JSON, gzip). It is replayed either into a fresh Prometheus (OpenMetrics text ->
`promtool tsdb create-blocks-from openmetrics` -> Prometheus on that storage: the judge then
reads it exactly as live data), or in-process as sre_judge.prometheus.Series.
"""

from __future__ import annotations

import gzip
import itertools
import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from judge_servers import JUDGE_DIR

from sre_judge.prometheus import Series

FORMAT = "sre-judge-recording/v1"
RECORDING = JUDGE_DIR / "tests" / "data" / "real-service.json.gz"


@dataclass(frozen=True)
class Recording:
    meta: dict[str, Any]
    series: list[Series]

    @property
    def start(self) -> float:
        return min(s.samples[0][0] for s in self.series if s.samples)

    @property
    def end(self) -> float:
        return max(s.samples[-1][0] for s in self.series if s.samples)


def _number(value: float) -> float | int:
    return int(value) if float(value).is_integer() else value


def save(path: Path, meta: dict[str, Any], series: list[Series]) -> None:
    items = []
    for item in sorted(series, key=lambda s: sorted(s.labels.items())):
        times = [round(t * 1000) for t, _ in item.samples]
        values = [v for _, v in item.samples]
        items.append(
            {
                "labels": item.labels,
                "t0": times[0],
                "dt": [b - a for a, b in itertools.pairwise(times)],
                "v0": _number(values[0]),
                "dv": [_number(round(b - a, 9)) for a, b in itertools.pairwise(values)],
            }
        )
    data = {"format": FORMAT, **meta, "series": items}
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wt", compresslevel=9) as out:
        json.dump(data, out, separators=(",", ":"))


def load(path: Path = RECORDING) -> Recording:
    with gzip.open(path, "rt") as src:
        data = json.load(src)
    if data.get("format") != FORMAT:
        raise ValueError(f"{path}: not a {FORMAT} recording")
    series = []
    for item in data.pop("series"):
        t, v = item["t0"], float(item["v0"])
        samples = [(t / 1000, v)]
        for dt, dv in zip(item["dt"], item["dv"], strict=True):
            t, v = t + dt, round(v + dv, 9)
            samples.append((t / 1000, v))
        series.append(Series(dict(item["labels"]), tuple(samples)))
    return Recording(data, series)


def _labels_text(labels: dict[str, str]) -> str:
    def escape(value: str) -> str:
        return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")

    inner = ",".join(f'{k}="{escape(v)}"' for k, v in sorted(labels.items()) if k != "__name__")
    return "{" + inner + "}"


def backfill(recording: Recording, storage: Path) -> None:
    """Write the recording as TSDB blocks into `storage` (promtool, Debian's prometheus)."""
    promtool = shutil.which("promtool")
    if promtool is None:
        raise RuntimeError("promtool not found; run `make setup` (Debian prometheus)")
    text = storage.parent / "recording.om"
    with text.open("w") as out:
        for item in recording.series:
            head = item.labels["__name__"] + _labels_text(item.labels)
            for t, v in item.samples:
                out.write(f"{head} {v!r} {t:.3f}\n")
        out.write("# EOF\n")
    result = subprocess.run(
        [promtool, "tsdb", "create-blocks-from", "openmetrics", str(text), str(storage)],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    text.unlink(missing_ok=True)
    if result.returncode != 0:
        raise RuntimeError(f"promtool could not backfill the recording:\n{result.stderr[-2000:]}")
