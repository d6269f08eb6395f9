"""A regular-expression scanner, shared by the readers of conditions (`expr.py`) and of
PromQL queries (`promql.py`)."""

from __future__ import annotations

import re
from collections.abc import Iterator


def scan(pattern: re.Pattern[str], text: str, error: type[Exception]) -> Iterator[re.Match[str]]:
    """Each match of `pattern` in turn from the start of `text`, skipping the group named
    `ws`; `error` names the first character no alternative of `pattern` matches."""
    pos = 0
    while pos < len(text):
        match = pattern.match(text, pos)
        if match is None:
            raise error(f"unexpected character {text[pos]!r} at {pos + 1}")
        if match.lastgroup != "ws":
            yield match
        pos = match.end()
