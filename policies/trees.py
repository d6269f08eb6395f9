"""Comparing and merging YAML trees (the drift rules compare a file with what it should be)."""

from __future__ import annotations

from typing import Any


def diff(a: Any, b: Any, path: str = "", limit: int = 5, there: str = "in the chart") -> list[str]:
    """Up to `limit` human-readable differences between two YAML trees."""
    out: list[str] = []

    def walk(x: Any, y: Any, where: str) -> None:
        if len(out) >= limit:
            return
        if isinstance(x, dict) and isinstance(y, dict):
            for key in sorted(set(x) | set(y), key=str):
                walk(x.get(key), y.get(key), f"{where}.{key}" if where else str(key))
        elif isinstance(x, list) and isinstance(y, list) and len(x) == len(y):
            for i, (p, q) in enumerate(zip(x, y, strict=True)):
                walk(p, q, f"{where}[{i}]")
        elif x != y and not (_number(x) and _number(y) and float(x) == float(y)):
            out.append(f"{where or '.'}: {_short(x)} here, {_short(y)} {there}")

    walk(a, b, path)
    return out


def _number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _short(value: Any) -> str:
    text = "absent" if value is None else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def merge(base: Any, patch: Any) -> Any:
    """`patch` merged into `base` key by key (a JSON merge patch without deletion)."""
    if isinstance(base, dict) and isinstance(patch, dict):
        merged = dict(base)
        for key, value in patch.items():
            merged[key] = merge(base.get(key), value)
        return merged
    return patch
