"""Is what a cluster holds what deploy/admission/ says? (the validate tier's admission check)

The API server adds defaults to what it stores (matchPolicy, empty selectors, a rule's
scope), so an installed object is current when it holds every field of the generated one
with the same value; lists must have the same length, element by element.
"""

from __future__ import annotations

from typing import Any

import yaml

from policies.admission.output import DEPLOY_DIR, present

KINDS = ("ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding")


def shipped() -> list[dict[str, Any]]:
    """The policies and bindings of deploy/admission/, as scripts/install-admission.sh
    applies them."""
    return [
        doc
        for text in present(DEPLOY_DIR).values()
        for doc in yaml.safe_load_all(text)
        if isinstance(doc, dict) and doc.get("kind") in KINDS
    ]


def _differences(wanted: Any, live: Any, path: str) -> list[str]:
    if isinstance(wanted, dict):
        if not isinstance(live, dict):
            return [f"{path} is not an object"]
        out = []
        for key, value in wanted.items():
            if key not in live:
                out.append(f"{path}.{key} is missing")
            else:
                out += _differences(value, live[key], f"{path}.{key}")
        return out
    if isinstance(wanted, list):
        if not isinstance(live, list) or len(live) != len(wanted):
            return [f"{path} differs"]
        return [p for i, w in enumerate(wanted) for p in _differences(w, live[i], f"{path}[{i}]")]
    return [] if wanted == live else [f"{path} differs"]


def drift(wanted: list[dict[str, Any]], live: list[dict[str, Any]]) -> list[str]:
    """One line per generated object missing or different in `live`, and per object of
    ours in `live` that nothing generates any more (empty: installed and current)."""
    installed = {(o["kind"], o["metadata"]["name"]): o for o in live}
    problems = []
    for doc in wanted:
        key = (doc["kind"], doc["metadata"]["name"])
        found = installed.pop(key, None)
        if found is None:
            problems.append(f"{key[0]} {key[1]} is not installed")
            continue
        for what in ("spec", "metadata"):
            fields = _differences(doc.get(what), found.get(what), what)
            if fields:
                problems.append(f"{key[0]} {key[1]}: {'; '.join(fields)}")
    problems += [f"{kind} {name} is installed but no rule generates it" for kind, name in installed]
    return problems
