"""Argo CD Applications as the controller will create them: the real ones, and those that
ApplicationSets generate from their list generators (with fasttemplate or Go templates,
`templatePatch` merged in), so the sync-policy rules judge each environment's Application.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any

import yaml

from policies.gotemplate import TemplateError, render
from policies.model import (
    Bundle,
    Obj,
    PathKey,
    Severity,
    Violation,
    as_dict,
    as_list,
    get_path,
)
from policies.trees import merge
from policies.yamlio import KubeLoader

ENV_LABELS = ("environment", "env", "app.kubernetes.io/environment", "sre-platform.io/environment")


_GO_FIELD = re.compile(r"\{\{-?\s*\.?([A-Za-z_][A-Za-z0-9_.]*)\s*-?\}\}")


@dataclass
class AppView:
    """An Application as Argo CD will see it (a real one, or one an ApplicationSet generates)."""

    obj: Obj
    name: str
    spec: dict[str, Any]
    labels: dict[str, Any]
    base: tuple[PathKey, ...]  # where `spec` lives inside obj, for line numbers
    element: str | None = None
    metadata: dict[str, Any] | None = None

    @property
    def label(self) -> str:
        if self.element is None:
            return self.obj.ref
        return f"{self.obj.ref} (generated Application {self.name})"

    def violation(
        self,
        message: str,
        path: tuple[PathKey, ...] = (),
        fix: str | None = None,
        severity: Severity | None = None,
    ) -> Violation:
        v = self.obj.violation(message, path=(*self.base, *path), fix=fix, severity=severity)
        # Named after the (possibly generated) Application; located in its file as written,
        # never through a chart's templates.
        return replace(v, subject=self.label, rendered=False)

    def sources(self) -> list[tuple[tuple[PathKey, ...], dict[str, Any]]]:
        if isinstance(self.spec.get("source"), dict):
            return [(("source",), self.spec["source"])]
        items = self.spec.get("sources")
        if isinstance(items, list):
            return [(("sources", i), s) for i, s in enumerate(items) if isinstance(s, dict)]
        return []


def _fast_substitute(node: Any, element: dict[str, Any]) -> Any:
    """fasttemplate (goTemplate: false): `{{key}}` and `{{a.b}}` only."""
    if isinstance(node, str):
        return _GO_FIELD.sub(
            lambda m: str(get_path(element, m.group(1).split("."), m.group(0))), node
        )
    if isinstance(node, dict):
        return {k: _fast_substitute(v, element) for k, v in node.items()}
    if isinstance(node, list):
        return [_fast_substitute(v, element) for v in node]
    return node


def _go_substitute(node: Any, element: dict[str, Any], strict: bool) -> Any:
    if isinstance(node, str):
        return render(node, element, strict) if "{{" in node else node
    if isinstance(node, dict):
        return {k: _go_substitute(v, element, strict) for k, v in node.items()}
    if isinstance(node, list):
        return [_go_substitute(v, element, strict) for v in node]
    return node


def _elements(appset: Obj) -> list[dict[str, Any]]:
    return [
        e
        for generator in as_list(appset.get("spec", "generators"))
        if isinstance(generator, dict)
        for e in as_list(as_dict(generator.get("list")).get("elements"))
        if isinstance(e, dict)
    ]


def expand(appset: Obj) -> tuple[list[dict[str, Any]], list[str]]:
    """The Applications an ApplicationSet's list generators produce, and rendering errors."""
    template = as_dict(appset.get("spec", "template"))
    go = appset.get("spec", "goTemplate") is True
    strict = "missingkey=error" in as_list(appset.get("spec", "goTemplateOptions"))
    patch = appset.get("spec", "templatePatch")
    apps, errors = [], []
    for index, element in enumerate(_elements(appset) or [{}]):
        try:
            rendered = (
                _go_substitute(template, element, strict)
                if go
                else _fast_substitute(template, element)
            )
            if isinstance(patch, str) and go:
                text = render(patch, element, strict)
                # KubeLoader is a SafeLoader
                extra = yaml.load(text, Loader=KubeLoader) if text.strip() else None  # noqa: S506
                if extra is not None:
                    rendered = merge(rendered, extra)
        except (TemplateError, yaml.YAMLError) as err:
            errors.append(
                f"element {index} ({element.get('env') or element.get('name') or index}): {err}"
            )
            continue
        apps.append(rendered)
    return apps, errors


def applications(bundle: Bundle) -> list[AppView]:
    """Every Application of the bundle, generated ones included (computed once per bundle)."""
    cached: list[AppView] | None = bundle.cache.get("applications")
    if cached is not None:
        return cached
    views: list[AppView] = []
    for app in bundle.of_kind("Application"):
        views.append(AppView(app, app.name, app.spec, app.labels, ("spec",)))
    for appset in bundle.of_kind("ApplicationSet"):
        apps, _ = expand(appset)
        for index, rendered in enumerate(apps):
            rendered = as_dict(rendered)
            meta = as_dict(rendered.get("metadata"))
            views.append(
                AppView(
                    appset,
                    str(meta.get("name") or f"{appset.name}[{index}]"),
                    as_dict(rendered.get("spec")),
                    as_dict(meta.get("labels")),
                    ("spec", "template", "spec"),
                    element=str(index),
                    metadata=meta,
                )
            )
    bundle.cache["applications"] = views
    return views


def app_env(view: AppView, envs: list[str]) -> str | None:
    """Which environment an Application deploys: label, namespace, name, or values file."""
    for key, value in view.labels.items():
        if (key in ENV_LABELS or str(key).endswith("/environment")) and value in envs:
            return str(value)
    namespace = str(as_dict(view.spec.get("destination")).get("namespace") or "")
    texts = [namespace, view.name]
    for _, source in view.sources():
        texts.extend(str(f) for f in as_list(as_dict(source.get("helm")).get("valueFiles")))
    for text in texts:
        tokens = set(re.split(r"[^a-z0-9]+", text.lower()))
        for env in envs:
            if env in tokens:
                return env
    return None


def automated(spec: dict[str, Any]) -> dict[str, Any] | None:
    """An Application spec's `syncPolicy.automated` settings, None when it syncs by hand."""
    auto = as_dict(spec.get("syncPolicy")).get("automated")
    if auto is None or (isinstance(auto, dict) and auto.get("enabled") is False):
        return None
    return auto if isinstance(auto, dict) else {}
