"""Every rendered object, plain manifest and Argo CD manifest against the Kubernetes OpenAPI
schema of the target version and the pinned Argo Rollouts / Argo CD CRD schemas."""

from __future__ import annotations

import pytest

from fixtures.static.schemas import NoSchema, validate
from fixtures.static.session import StaticSession
from fixtures.tools import ToolMissing
from policies.model import Obj


def _check(objects: list[Obj], version: str) -> tuple[list[str], set[str]]:
    errors, missing = [], set()
    for obj in objects:
        try:
            problems = validate(obj.data, version)
        except ToolMissing as err:
            pytest.fail(f"cannot validate custom resources: {err}", pytrace=False)
        except NoSchema:
            missing.add(f"{obj.api_version} {obj.kind}")
            continue
        errors += [f"{obj.ref} ({obj.file}): {p}" for p in problems]
    return errors, missing


@pytest.mark.needs("chart")
def test_rendered_objects_match_schemas(static: StaticSession, render_target: str) -> None:
    bundle = static.repo.rendered(render_target)
    assert bundle is not None
    errors, _ = _check(bundle.objects, static.config.kube_version)
    assert not errors, "\n".join(errors)


@pytest.mark.needs("argocd")
def test_argocd_manifests_match_schemas(static: StaticSession) -> None:
    assert static.repo.argocd is not None
    errors, _ = _check(static.repo.argocd.objects, static.config.kube_version)
    assert not errors, "\n".join(errors)


@pytest.mark.needs("manifests")
def test_plain_manifests_match_schemas(static: StaticSession) -> None:
    objects = [o for b in static.repo.bundles if b.name.startswith("manifests") for o in b.objects]
    unique = list({id(o): o for o in objects}.values())
    errors, _ = _check(unique, static.config.kube_version)
    assert not errors, "\n".join(errors)


@pytest.mark.needs("objects")
def test_every_kind_has_a_schema(static: StaticSession) -> None:
    objects = [o for b in static.repo.bundles for o in b.objects]
    if static.repo.argocd is not None:
        objects += static.repo.argocd.objects
    _, missing = _check(objects, static.config.kube_version)
    if missing:
        pytest.skip(f"not schema-validated (no pinned schema): {', '.join(sorted(missing))}")
