"""A field of the wrong type anywhere (a list where a mapping belongs, a number for a name)
makes no check crash: the schema test names the field, and every rule judges what it can.
Objects of the rule cases and the foreign corpus, with random fields replaced (seeded, so a
failure repeats)."""

from __future__ import annotations

import copy
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from policies.catalogue import load_catalogue
from policies.engine import evaluate
from policies.errors import InputError
from policies.model import Bundle, Obj
from policies.sources import Repo
from policies.yamlio import load_documents

SUITE = Path(__file__).resolve().parents[3]
WRONG: list[Any] = [None, [], {}, "x", 0, -1, True, [None], [{}], {"a": None}, 1.5]
TRIALS = 60


def _objects() -> list[dict[str, Any]]:
    folders = [SUITE / "policies" / "cases", SUITE / "suites" / "static" / "foreign"]
    found = []
    for path in sorted(p for folder in folders for p in folder.rglob("*.yaml")):
        if "templates" in path.parts or path.name.endswith(".expected.yaml"):
            continue
        try:
            docs = load_documents(path)
        except InputError:  # the corpus's malformed files
            continue
        found += [d for d in docs if isinstance(d, dict) and d.get("kind")]
    return found


def _paths(node: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if path:
        yield path
    items = (
        node.items()
        if isinstance(node, dict)
        else enumerate(node)
        if isinstance(node, list)
        else ()
    )
    for key, value in items:
        yield from _paths(value, (*path, key))


def _replace(node: Any, path: tuple[Any, ...], value: Any) -> None:
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value


def test_no_check_crashes_on_fields_of_the_wrong_type() -> None:
    rules = load_catalogue().for_scope("workloads", "manifests")
    objects = _objects()
    rng = random.Random(20260707)
    crashes: dict[str, str] = {}
    for _ in range(TRIALS):
        broken = []
        for data in rng.sample(objects, 6):
            data = copy.deepcopy(data)
            paths = list(_paths(data))
            for _ in range(3):
                _replace(data, rng.choice(paths), copy.deepcopy(rng.choice(WRONG)))
                paths = list(_paths(data))
            broken.append(Obj(data, "fuzz.yaml", 0))
        env = rng.choice([None, "production", "dev"])
        repo = Repo(root=".", bundles=[Bundle("fuzz", broken, env=env)])
        for rule in rules:
            for finding in evaluate(rule, repo):
                if (
                    "cannot judge" in finding.violation.message
                    and "(at " in finding.violation.message
                ):
                    crashes.setdefault(rule.check.name, finding.violation.message)
    assert not crashes, "\n".join(f"{name}: {message}" for name, message in crashes.items())
