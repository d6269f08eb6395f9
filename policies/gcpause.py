"""Pause Python's cyclic garbage collector while big, acyclic data is built or read.

Parsing a large manifest allocates millions of containers, and every check allocates more
while the parsed objects are alive; each full collection then rescans all of them, for
nothing: YAML documents and findings hold no reference cycles, reference counting frees
them. Paused only for the duration of the work, and only by whoever found it running.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def gc_paused() -> Iterator[None]:
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()
