"""Argo CD Applications, ApplicationSets and AppProjects (argocd-lint AR001-AR011 and more).

ApplicationSets are expanded from their list generators, so the sync-policy rules judge
the Applications the controller will really create, per environment.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from policies.gotemplate import TemplateError, render
from policies.model import Bundle, Obj, PathKey, Violation
from policies.registry import REQUIRED, check
from policies.yamlio import KubeLoader

Params = Mapping[str, Any]
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
        self, message: str, path: tuple[PathKey, ...] = (), fix: str | None = None
    ) -> Violation:
        v = self.obj.violation(message, path=(*self.base, *path), fix=fix)
        return Violation(
            subject=self.label, message=v.message, file=v.file, doc=v.doc, path=v.path, fix=fix
        )

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
        return _GO_FIELD.sub(lambda m: str(_lookup(element, m.group(1), m.group(0))), node)
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


def _lookup(element: dict[str, Any], dotted: str, fallback: str) -> Any:
    node: Any = element
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return fallback
        node = node[part]
    return node


def _merge(base: Any, patch: Any) -> Any:
    if isinstance(base, dict) and isinstance(patch, dict):
        merged = dict(base)
        for key, value in patch.items():
            merged[key] = _merge(base.get(key), value)
        return merged
    return patch


def _elements(appset: Obj) -> list[dict[str, Any]]:
    return [
        e
        for generator in appset.get("spec", "generators") or []
        if isinstance(generator, dict)
        for e in ((generator.get("list") or {}).get("elements") or [])
        if isinstance(e, dict)
    ]


def expand(appset: Obj) -> tuple[list[dict[str, Any]], list[str]]:
    """The Applications an ApplicationSet's list generators produce, and rendering errors."""
    template = appset.get("spec", "template") or {}
    go = appset.get("spec", "goTemplate") is True
    strict = "missingkey=error" in (appset.get("spec", "goTemplateOptions") or [])
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
                extra = yaml.load(text, Loader=KubeLoader)  # noqa: S506 (KubeLoader is a SafeLoader) if text.strip() else None
                if extra is not None:
                    rendered = _merge(rendered, extra)
        except (TemplateError, yaml.YAMLError) as err:
            errors.append(
                f"element {index} ({element.get('env') or element.get('name') or index}): {err}"
            )
            continue
        apps.append(rendered)
    return apps, errors


def applications(bundle: Bundle) -> list[AppView]:
    cached: list[AppView] | None = bundle.cache.get("applications")
    if cached is not None:
        return cached
    views: list[AppView] = []
    for app in bundle.of_kind("Application"):
        views.append(AppView(app, app.name, app.spec, app.labels, ("spec",)))
    for appset in bundle.of_kind("ApplicationSet"):
        apps, _ = expand(appset)
        for index, rendered in enumerate(apps):
            meta = rendered.get("metadata") or {}
            views.append(
                AppView(
                    appset,
                    str(meta.get("name") or f"{appset.name}[{index}]"),
                    rendered.get("spec") or {},
                    meta.get("labels") or {},
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
    namespace = str((view.spec.get("destination") or {}).get("namespace") or "")
    texts = [namespace, view.name]
    for _, source in view.sources():
        texts.extend(str(f) for f in (source.get("helm") or {}).get("valueFiles") or [])
    for text in texts:
        tokens = set(re.split(r"[^a-z0-9]+", text.lower()))
        for env in envs:
            if env in tokens:
                return env
    return None


def _automated(spec: dict[str, Any]) -> dict[str, Any] | None:
    auto = (spec.get("syncPolicy") or {}).get("automated")
    if auto is None or (isinstance(auto, dict) and auto.get("enabled") is False):
        return None
    return auto if isinstance(auto, dict) else {}


@check("auto-sync", "manifests", environments=REQUIRED, envs_known=REQUIRED)
def auto_sync(bundle: Bundle, params: Params) -> Iterator[Violation]:
    for view in applications(bundle):
        env = app_env(view, params["envs_known"])
        if env not in params["environments"]:
            continue
        auto = _automated(view.spec)
        if auto is None:
            yield view.violation(f"{env} does not sync automatically", ("syncPolicy",))
            continue
        missing = [k for k in ("prune", "selfHeal") if auto.get(k) is not True]
        if missing:
            yield view.violation(
                f"{env} syncs automatically but without {' and '.join(missing)}",
                ("syncPolicy", "automated"),
            )


@check("manual-sync", "manifests", environments=REQUIRED, envs_known=REQUIRED)
def manual_sync(bundle: Bundle, params: Params) -> Iterator[Violation]:
    for view in applications(bundle):
        env = app_env(view, params["envs_known"])
        if env in params["environments"] and _automated(view.spec) is not None:
            yield view.violation(
                f"{env} syncs automatically (syncPolicy.automated is set)",
                ("syncPolicy", "automated"),
            )


@check("app-project", "manifests")
def app_project(bundle: Bundle, params: Params) -> Iterator[Violation]:
    for view in applications(bundle):
        project = view.spec.get("project")
        if not project or project == "default":
            yield view.violation(f"uses project {project or '(none)'!r}", ("project",))
    for appset in bundle.of_kind("ApplicationSet"):
        project = appset.get("spec", "template", "spec", "project")
        if isinstance(project, str) and "{{" in project:
            yield appset.violation(
                f"templates its project ({project}): a generator value can move apps into another "
                "project",
                path=("spec", "template", "spec", "project"),
                fix="set a literal project name in the ApplicationSet template",
            )


FLOATING = re.compile(r"^(HEAD|\*|latest)$|[\^~*]|[<>]=?|\bx\b|\.x$", re.IGNORECASE)


@check("target-revision", "manifests")
def target_revision(bundle: Bundle, params: Params) -> Iterator[Violation]:
    for view in applications(bundle):
        for path, source in view.sources():
            revision = str(source.get("targetRevision") or "")
            if not revision or FLOATING.search(revision):
                shown = revision or "empty (HEAD)"
                yield view.violation(f"targetRevision is {shown}", (*path, "targetRevision"))


@check("app-destination", "manifests")
def app_destination(bundle: Bundle, params: Params) -> Iterator[Violation]:
    for view in applications(bundle):
        destination = view.spec.get("destination") or {}
        if not destination.get("server") and not destination.get("name"):
            yield view.violation("destination names no cluster (server or name)", ("destination",))
        namespace = destination.get("namespace")
        if not namespace or namespace == "default":
            yield view.violation(
                f"destination.namespace is {namespace or 'not set'!r}", ("destination",)
            )


@check("appset-go-template", "manifests")
def appset_go_template(bundle: Bundle, params: Params) -> Iterator[Violation]:
    for appset in bundle.of_kind("ApplicationSet"):
        if appset.get("spec", "goTemplate") is not True:
            yield appset.violation("does not use goTemplate: true", path=("spec", "goTemplate"))
        options = appset.get("spec", "goTemplateOptions") or []
        if "missingkey=error" not in options:
            yield appset.violation(
                "goTemplateOptions lacks missingkey=error, so a missing key renders as <no value>",
                path=("spec", "goTemplateOptions"),
            )
        for error in expand(appset)[1]:
            yield appset.violation(
                f"does not render: {error}",
                path=("spec", "template"),
                fix="give every generator element the keys the template uses",
            )


@check("project-restrictions", "manifests")
def project_restrictions(bundle: Bundle, params: Params) -> Iterator[Violation]:
    for project in bundle.of_kind("AppProject"):
        if "*" in (project.get("spec", "sourceRepos") or ["*"]):
            yield project.violation(
                "sourceRepos allows any repository",
                path=("spec", "sourceRepos"),
                fix="list the Git repositories the project may deploy from",
            )
        destinations = project.get("spec", "destinations") or []
        if not destinations:
            yield project.violation("has no destinations", path=("spec", "destinations"))
        for index, dest in enumerate(destinations):
            if not isinstance(dest, dict):
                continue
            if dest.get("namespace") in ("*", None, ""):
                yield project.violation(
                    f"destinations[{index}] allows every namespace",
                    path=("spec", "destinations", index),
                    fix="list the environment namespaces",
                )
            if dest.get("server") == "*" or dest.get("name") == "*":
                yield project.violation(
                    f"destinations[{index}] allows every cluster",
                    path=("spec", "destinations", index),
                )
        for index, entry in enumerate(project.get("spec", "clusterResourceWhitelist") or []):
            if isinstance(entry, dict) and entry.get("group") == "*" and entry.get("kind") == "*":
                yield project.violation(
                    "clusterResourceWhitelist allows every cluster-scoped kind",
                    path=("spec", "clusterResourceWhitelist", index),
                )


@check("appset-matches-applications", "manifests", compare=REQUIRED)
def appset_matches_applications(bundle: Bundle, params: Params) -> Iterator[Violation]:
    """An ApplicationSet that generates the same Applications as application.yaml must generate
    them identically, or the two ways of installing disagree about an environment."""
    from policies.checks.repo import diff  # shared tree diff

    views = applications(bundle)
    real = {v.name: v for v in views if v.element is None}
    for view in views:
        counterpart = real.get(view.name)
        if view.element is None or counterpart is None:
            continue
        here_meta, there_meta = view.metadata or {}, counterpart.obj.metadata
        for field in params["compare"]:
            here: Any = view.spec if field == "spec" else here_meta.get(field)
            there: Any = counterpart.spec if field == "spec" else there_meta.get(field)
            where = f"Application {counterpart.name} in {counterpart.obj.file}"
            path = field if field == "spec" else f"metadata.{field}"
            for problem in diff(here, there, path, there="there"):
                yield view.violation(
                    f"differs from {where}: {problem}",
                    fix="make the ApplicationSet's template and application.yaml agree "
                    "(or keep only one of them)",
                )


def _as_pointer(path: str) -> str:
    """A jsonPointer ("/spec/") or a simple jq path (".spec", ".") as a pointer ("/spec")."""
    if path.startswith("."):
        path = "/" + path.strip(".").replace(".", "/")
    return path.rstrip("/")


@check("ignore-differences-scoped", "manifests", broad_pointers=REQUIRED)
def ignore_differences_scoped(bundle: Bundle, params: Params) -> Iterator[Violation]:
    """ignoreDifferences hides drift from Argo CD: it must name one object and one field."""
    broad = set(params["broad_pointers"])
    for view in applications(bundle):
        for index, entry in enumerate(view.spec.get("ignoreDifferences") or []):
            if not isinstance(entry, dict):
                continue
            where = ("ignoreDifferences", index)
            if not entry.get("name"):
                yield view.violation(
                    f"ignoreDifferences[{index}] ignores every {entry.get('kind') or 'object'} "
                    "(no name)",
                    where,
                    fix="name the one object whose field is managed outside git",
                )
            pointers = list(entry.get("jsonPointers") or []) + list(
                entry.get("jqPathExpressions") or []
            )
            wide = sorted(p for p in pointers if _as_pointer(str(p)) in broad)
            if wide or not (pointers or entry.get("managedFieldsManagers")):
                shown = ", ".join(map(str, wide)) or "no field at all (the whole object)"
                yield view.violation(
                    f"ignoreDifferences[{index}] ignores {shown}",
                    where,
                    fix="ignore the exact fields another controller writes",
                )
