"""Measurement phases from Argo Rollouts' own condition evaluation.

The controller evaluates a metric's `successCondition` / `failureCondition` with expr-lang
inside `utils/evaluate.EvaluateResult`. A re-implementation could parse a condition
differently, and the static tier's verdict on an AnalysisTemplate would then be wrong, so
the phase comes from that very function: `rollouts-evaluate` (tools/argo-rollouts/rollouts-evaluate,
built from the pinned Argo Rollouts module) answers one JSON request per line, and one
process serves a whole run. Answers are cached: the same condition meets the same probe
values across environments and rule cases.

The binary is found by whoever runs the policies (the static tier's session gives its
path with `use()`); this package does not look for tools itself.
"""

from __future__ import annotations

import atexit
import json
import math
import subprocess
import threading
from collections.abc import Sequence
from enum import StrEnum
from pathlib import Path
from typing import Any


class Phase(StrEnum):
    """An AnalysisRun measurement's phase (v1alpha1.AnalysisPhase)."""

    SUCCESSFUL = "Successful"
    FAILED = "Failed"
    INCONCLUSIVE = "Inconclusive"
    ERROR = "Error"


class EvaluatorError(RuntimeError):
    """rollouts-evaluate is not configured, did not start, or broke the protocol."""


Result = float | Sequence[float] | None


def _number(value: float) -> str:
    # Floats travel as text so NaN and +Inf/-Inf survive JSON (Go's encoding/json has neither).
    return repr(float(value)) if math.isfinite(value) else str(float(value))


def encode_result(result: Any, *, scalar: bool) -> dict[str, Any]:
    """What a Prometheus query hands to EvaluateResult: a scalar, or a vector of values."""
    if scalar:
        return {"scalar": _number(result)}
    return {"vector": [_number(v) for v in result]}


class Evaluator:
    """One long-lived rollouts-evaluate process behind a cache."""

    def __init__(self, binary: Path) -> None:
        self.binary = binary
        self._process: subprocess.Popen[str] | None = None
        self._cache: dict[str, tuple[Phase, str]] = {}
        self._lock = threading.Lock()

    def _started(self) -> subprocess.Popen[str]:
        if self._process is None or self._process.poll() is not None:
            try:
                self._process = subprocess.Popen(  # noqa: S603 (our own built tool)
                    [str(self.binary)],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    text=True,
                    bufsize=1,
                )
            except OSError as exc:
                raise EvaluatorError(f"cannot start {self.binary}: {exc}") from exc
            atexit.register(self.close)
        return self._process

    def evaluate(
        self, success: str | None, failure: str | None, result: dict[str, Any]
    ) -> tuple[Phase, str]:
        """(phase, the controller's message) for one measurement's encoded result."""
        request = {"successCondition": success or "", "failureCondition": failure or ""}
        key = json.dumps([request, result], sort_keys=True)
        with self._lock:
            if key in self._cache:
                return self._cache[key]
            process = self._started()
            assert process.stdin is not None and process.stdout is not None
            process.stdin.write(json.dumps({**request, "result": result}) + "\n")
            process.stdin.flush()
            line = process.stdout.readline()
            if not line:
                raise EvaluatorError(f"{self.binary} exited (code {process.poll()})")
            answer = json.loads(line)
            if answer.get("error"):
                raise EvaluatorError(f"{self.binary}: {answer['error']}")
            self._cache[key] = (Phase(answer["phase"]), str(answer.get("message") or ""))
            return self._cache[key]

    def close(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            assert process.stdin is not None
            process.stdin.close()
            process.wait(timeout=5)


_evaluator: Evaluator | None = None


def use(binary: Path) -> Evaluator:
    """Make `binary` the evaluator of this process (the static session calls this once)."""
    global _evaluator
    if _evaluator is None or _evaluator.binary != binary:
        if _evaluator is not None:
            _evaluator.close()
        _evaluator = Evaluator(binary)
    return _evaluator


def evaluator() -> Evaluator:
    if _evaluator is None:
        raise EvaluatorError(
            "no rollouts-evaluate configured: policies.conditions.use(<path>) first "
            "(the static tier does this from the built tools)"
        )
    return _evaluator


def measure(success: str | None, failure: str | None, result: Any, *, scalar: bool) -> Phase:
    """The phase Argo Rollouts gives a Prometheus measurement with this result."""
    return evaluator().evaluate(success, failure, encode_result(result, scalar=scalar))[0]


def measure_value(success: str | None, failure: str | None, value: Any) -> Phase:
    """The phase Argo Rollouts gives a web measurement whose jsonPath selected `value` (as
    encoding/json decodes the response: numbers are float64, null is nil)."""
    return evaluator().evaluate(success, failure, {"value": value})[0]
