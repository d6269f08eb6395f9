"""Kubernetes API versions: nothing the target version has removed (Pluto's table)."""

from __future__ import annotations

from collections.abc import Iterator

from policies.model import Bundle, Violation
from policies.registry import REQUIRED, Params, check


@check("removed-versions", "manifests", removed=REQUIRED, target_version=REQUIRED)
def removed_versions(bundle: Bundle, params: Params) -> Iterator[Violation]:
    """Pluto's table: apiVersions removed at or before the target Kubernetes minor."""
    target = tuple(int(x) for x in str(params["target_version"]).split("."))
    for obj in bundle.objects:
        for entry in params["removed"]:
            if entry["apiVersion"] != obj.api_version:
                continue
            if entry.get("kind") not in (None, obj.kind):
                continue
            removed_in = tuple(int(x) for x in str(entry["removedIn"]).split("."))
            if removed_in <= target:
                yield obj.violation(
                    f"{obj.api_version} {obj.kind} was removed in Kubernetes {entry['removedIn']}",
                    path=("apiVersion",),
                    fix=f"use apiVersion {entry['replacement']}",
                )
