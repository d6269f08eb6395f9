"""This repository's chart: every rendering has a workload, and its values schema rejects
what a typo or a wrong type would otherwise slip through (probes with one more values file)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from fixtures.render import RenderRequest, helm_template_e
from fixtures.static.session import StaticSession


def test_every_rendering_has_a_workload(static: StaticSession, render_target: str) -> None:
    bundle = static.repo.rendered(render_target)
    kinds = {obj.kind for obj in bundle.objects} if bundle else set()
    assert kinds & {"Rollout", "Deployment"}, (
        f"{render_target} renders no workload (kinds: {sorted(kinds)})"
    )


def _render_with(static: StaticSession, tmp_path: Path, extra: dict[str, Any]) -> str:
    """Render production with one more values file and return helm's error text ('' if none)."""
    env = static.config.envs.get("production") or next(iter(static.config.envs.values()))
    assert static.config.chart is not None
    bad = tmp_path / "bad-values.yaml"
    bad.write_text(yaml.safe_dump(extra))
    request = RenderRequest(
        static.config.chart,
        env.release,
        env.namespace,
        (env.values, bad),
        (),
        static.config.kube_version,
    )
    _, error = helm_template_e(request)
    return error.stderr if error else ""


def test_values_schema_rejects_a_misspelt_key(static: StaticSession, tmp_path: Path) -> None:
    """A typo in a values file must fail the render, not be silently ignored."""
    stderr = _render_with(static, tmp_path, {"autoscaling": {"minReplica": 3}})
    assert stderr, "helm rendered a values file with the misspelt key autoscaling.minReplica"
    assert "minReplica" in stderr and "additional" in stderr.lower(), stderr


def test_values_schema_rejects_a_misspelt_top_level_key(
    static: StaticSession, tmp_path: Path
) -> None:
    stderr = _render_with(static, tmp_path, {"imgae": {"tag": "abc1234"}})
    assert "imgae" in stderr, f"helm accepted the unknown top-level key imgae:\n{stderr}"


def test_values_schema_rejects_a_wrong_type(static: StaticSession, tmp_path: Path) -> None:
    stderr = _render_with(static, tmp_path, {"autoscaling": {"minReplicas": "three"}})
    assert stderr, "helm rendered autoscaling.minReplicas: 'three'"
    assert "minReplicas" in stderr, stderr


def _objects_without_additional_properties(schema: Any, path: str = "") -> list[str]:
    found: list[str] = []
    if isinstance(schema, dict):
        if (
            schema.get("type") == "object"
            and "properties" in schema
            and "additionalProperties" not in schema
        ):
            found.append(path or "(root)")
        for key, value in schema.items():
            if key in ("properties", "$defs", "definitions", "patternProperties") and isinstance(
                value, dict
            ):
                for name, sub in value.items():
                    found += _objects_without_additional_properties(
                        sub, f"{path}.{name}".lstrip(".")
                    )
            elif isinstance(value, (dict, list)) and key not in ("enum", "examples", "default"):
                found += _objects_without_additional_properties(value, path)
    elif isinstance(schema, list):
        for item in schema:
            found += _objects_without_additional_properties(item, path)
    return found


def test_values_schema_rejects_the_latest_tag(static: StaticSession, tmp_path: Path) -> None:
    """Defence in depth: the chart refuses `latest` before images/explicit-tag sees it."""
    stderr = _render_with(static, tmp_path, {"image": {"tag": "latest"}})
    assert "/image/tag" in stderr or "image.tag" in stderr, (
        f"helm rendered image.tag: latest:\n{stderr}"
    )


def test_values_schema_closes_every_object(static: StaticSession) -> None:
    """chart-testing practice: every object in values.schema.json sets additionalProperties."""
    assert static.config.chart is not None
    path = static.config.chart / "values.schema.json"
    assert path.is_file(), f"{static.config.shown(path)} is missing: the chart accepts any values"
    try:
        schema = json.loads(path.read_text())
    except ValueError as err:
        pytest.fail(f"{static.config.shown(path)}: not JSON ({err})", pytrace=False)
    open_objects = _objects_without_additional_properties(schema)
    assert not open_objects, (
        f"objects in values.schema.json without additionalProperties: {open_objects}"
    )
