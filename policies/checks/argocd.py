"""Argo CD Applications, ApplicationSets and AppProjects (argocd-lint AR001-AR011 and more),
and the files around them: the value files they name, the image key CI writes, and
argocd/rollout.yaml next to the chart it is generated from. Generated Applications are
judged as the controller will create them (`policies/applications.py`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from policies.analysis import rollout_strategy
from policies.applications import app_env, applications, automated, expand
from policies.model import Bundle, Obj, Severity, Violation, as_dict, as_list, get_path
from policies.registry import REQUIRED, Params, check
from policies.sources import Repo
from policies.trees import diff
from policies.workflows import find_stage
from policies.workloads import split_image


@check("staging-auto-sync", "manifests", environments=REQUIRED, envs_known=REQUIRED)
def staging_auto_sync(bundle: Bundle, params: Params) -> Iterator[Violation]:
    for view in applications(bundle):
        env = app_env(view, params["envs_known"])
        if env not in params["environments"]:
            continue
        auto = automated(view.spec)
        if auto is None:
            yield view.violation(f"{env} does not sync automatically", ("syncPolicy",))
            continue
        missing = [k for k in ("prune", "selfHeal") if auto.get(k) is not True]
        if missing:
            yield view.violation(
                f"{env} syncs automatically but without {' and '.join(missing)}",
                ("syncPolicy", "automated"),
            )


@check("production-manual-sync", "manifests", environments=REQUIRED, envs_known=REQUIRED)
def production_manual_sync(bundle: Bundle, params: Params) -> Iterator[Violation]:
    for view in applications(bundle):
        env = app_env(view, params["envs_known"])
        if env in params["environments"] and automated(view.spec) is not None:
            yield view.violation(
                f"{env} syncs automatically (syncPolicy.automated is set)",
                ("syncPolicy", "automated"),
            )


@check("project-not-default", "manifests")
def project_not_default(bundle: Bundle, params: Params) -> Iterator[Violation]:
    for view in applications(bundle):
        project = view.spec.get("project")
        project = project if isinstance(project, str) else None
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


@check("pinned-revision", "manifests")
def pinned_revision(bundle: Bundle, params: Params) -> Iterator[Violation]:
    for view in applications(bundle):
        for path, source in view.sources():
            revision = str(source.get("targetRevision") or "")
            if not revision or FLOATING.search(revision):
                shown = revision or "empty (HEAD)"
                yield view.violation(f"targetRevision is {shown}", (*path, "targetRevision"))


@check("destination", "manifests")
def destination(bundle: Bundle, params: Params) -> Iterator[Violation]:
    for view in applications(bundle):
        destination = as_dict(view.spec.get("destination"))
        if not destination.get("server") and not destination.get("name"):
            yield view.violation("destination names no cluster (server or name)", ("destination",))
        namespace = destination.get("namespace")
        if not namespace or namespace == "default":
            yield view.violation(
                f"destination.namespace is {namespace or 'not set'!r}", ("destination",)
            )


@check("applicationset-missingkey", "manifests")
def applicationset_missingkey(bundle: Bundle, params: Params) -> Iterator[Violation]:
    for appset in bundle.of_kind("ApplicationSet"):
        if appset.get("spec", "goTemplate") is not True:
            yield appset.violation("does not use goTemplate: true", path=("spec", "goTemplate"))
        options = as_list(appset.get("spec", "goTemplateOptions"))
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
        if "*" in (as_list(project.get("spec", "sourceRepos")) or ["*"]):
            yield project.violation(
                "sourceRepos allows any repository",
                path=("spec", "sourceRepos"),
                fix="list the Git repositories the project may deploy from",
            )
        destinations = as_list(project.get("spec", "destinations"))
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
        for index, entry in enumerate(as_list(project.get("spec", "clusterResourceWhitelist"))):
            if isinstance(entry, dict) and entry.get("group") == "*" and entry.get("kind") == "*":
                yield project.violation(
                    "clusterResourceWhitelist allows every cluster-scoped kind",
                    path=("spec", "clusterResourceWhitelist", index),
                )


@check("applicationset-matches-applications", "manifests", compare=REQUIRED)
def applicationset_matches_applications(bundle: Bundle, params: Params) -> Iterator[Violation]:
    """An ApplicationSet that generates the same Applications as application.yaml must generate
    them identically, or the two ways of installing disagree about an environment."""
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
        for index, entry in enumerate(as_list(view.spec.get("ignoreDifferences"))):
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
            pointers = as_list(entry.get("jsonPointers")) + as_list(entry.get("jqPathExpressions"))
            wide = sorted(p for p in pointers if _as_pointer(str(p)) in broad)
            if wide or not (pointers or entry.get("managedFieldsManagers")):
                shown = ", ".join(map(str, wide)) or "no field at all (the whole object)"
                yield view.violation(
                    f"ignoreDifferences[{index}] ignores {shown}",
                    where,
                    fix="ignore the exact fields another controller writes",
                )


def _image_tags(rollout: Obj) -> set[str]:
    tags: set[str] = set()
    for container in rollout.get("spec", "template", "spec", "containers") or []:
        if isinstance(container, dict):
            _, tag, digest = split_image(str(container.get("image") or ""))
            tags.update(t for t in (tag, digest) if t)
    return tags


def _without_version(tree: Any, tags: set[str]) -> Any:
    """The tree with the image version masked: rollout.yaml documents the strategy, not a tag."""
    if isinstance(tree, dict):
        return {k: _without_version(v, tags) for k, v in tree.items()}
    if isinstance(tree, list):
        return [_without_version(v, tags) for v in tree]
    if isinstance(tree, str):
        for tag in tags:
            tree = tree.replace(tag, "<image version>")
    return tree


@check("rollout-matches-chart", "repo", file=REQUIRED, renders=REQUIRED, compare=REQUIRED)
def rollout_matches_chart(repo: Repo, params: Params) -> Iterator[Violation]:
    """argocd/rollout.yaml must not drift from what the chart renders: every object in it has
    a counterpart in a production rendering, equal up to the image version."""
    if repo.argocd is None:
        return
    mine = [
        o
        for o in repo.argocd.objects
        if o.file.endswith("/" + params["file"]) or o.file == params["file"]
    ]
    if not mine:
        yield Violation(
            subject=f"argocd/{params['file']}",
            message="does not exist",
            fix="add it or change the rule",
        )
        return
    renders = {kind: repo.rendered(name) for kind, name in params["renders"].items()}
    fix = "regenerate argocd/rollout.yaml from the chart (or change the chart)"
    for obj in mine:
        if obj.kind == "Rollout":
            kind, _ = rollout_strategy(obj)
            render = renders.get(kind or "")
            theirs = (
                [o for o in render.of_kind("Rollout") if rollout_strategy(o)[0] == kind]
                if render
                else []
            )
            fields = [tuple(f.split(".")) for f in params["compare"]]
        else:
            candidates = [r.find(obj.kind, obj.name) for r in renders.values() if r is not None]
            theirs = [c for c in candidates if c is not None]
            fields = [("spec",)]
        if not theirs:
            names = ", ".join(sorted(b.name for b in renders.values() if b)) or "none"
            yield obj.violation(f"has no counterpart in the chart's renderings ({names})", fix=fix)
            continue
        counterpart = theirs[0]
        for field in fields:
            here = _without_version(obj.get(*field), _image_tags(obj))
            there = _without_version(counterpart.get(*field), _image_tags(counterpart))
            for problem in diff(here, there, ".".join(field)):
                yield obj.violation(
                    f"differs from the chart's {counterpart.kind}/{counterpart.name}: {problem}",
                    path=field,
                    fix=fix,
                )


@check("value-files-exist", "repo")
def value_files_exist(repo: Repo, params: Params) -> Iterator[Violation]:
    """Chart paths and value files an Application takes from this repository exist in it.

    Which repoURL is this repository is not written anywhere the tier can read, so a repoURL
    counts as this repository when one of its paths exists here (or it has none); a path of
    another repoURL is reported as a warning that the tier cannot tell, never as an error."""
    if repo.argocd is None:
        return
    found = [
        (view, path, source, str(source.get("path") or ""))
        for view in applications(repo.argocd)
        for path, source in view.sources()
    ]
    here = {""} | {
        str(source.get("repoURL") or "")
        for _, _, source, chart_path in found
        if chart_path and "{{" not in chart_path and repo.exists(chart_path)
    }
    for view, path, source, chart_path in found:
        if not chart_path or "{{" in chart_path:
            continue
        url = str(source.get("repoURL") or "")
        if not repo.exists(chart_path):
            if url in here:
                yield view.violation(
                    f"source path {chart_path!r} does not exist in the repository", (*path, "path")
                )
            else:
                yield view.violation(
                    f"source path {chart_path!r} is not in this repository; cannot tell whether "
                    f"{url} is this repository (none of its paths is here)",
                    (*path, "path"),
                    severity=Severity.WARNING,
                )
            continue
        for index, value_file in enumerate((source.get("helm") or {}).get("valueFiles") or []):
            value_file = str(value_file)
            if "{{" in value_file or value_file.startswith("$"):
                continue
            if not repo.exists(f"{chart_path.rstrip('/')}/{value_file}"):
                yield view.violation(
                    f"helm valueFile {value_file!r} does not exist under {chart_path}",
                    (*path, "helm", "valueFiles", index),
                )


_YQ_PATH = re.compile(r"(?<![\w$})\]])\.((?:[A-Za-z_][\w-]*)(?:\.[A-Za-z_][\w-]*)+)\s*\|?=(?!=)")


def _has_key(values: Any, dotted: str) -> bool:
    missing = object()
    return get_path(values, dotted.split("."), missing) is not missing


@check(
    "gitops-image-key", "repo", key="image.tag", ci_file=REQUIRED, update=REQUIRED, writers=REQUIRED
)
def gitops_image_key(repo: Repo, params: Params) -> Iterator[Violation]:
    """CI's GitOps update, the rollback script and the chart agree on one image key."""
    key = params["key"]
    ci = repo.workflows.get(params["ci_file"]) if repo.workflows else None
    if ci is not None and repo.workflows and not find_stage(repo.workflows, ci, params["update"]):
        yield ci.violation(
            "has no GitOps update step that writes the image tag",
            fix=f"add a step that writes .{key} of helm/values-<env>.yaml and pushes",
        )
    for env, data in sorted(repo.environments.items()):
        gitops = data.get("gitops") if isinstance(data, dict) else None
        if not isinstance(gitops, dict):
            continue
        where = f"environments/{env}.yaml"
        written = gitops.get("image_tag_key")
        if written != key:
            yield Violation(
                f"environment {env}",
                f"gitops.image_tag_key is {written!r}, but the chart reads {key}",
                file=where,
                path=("gitops", "image_tag_key"),
                fix=f"set gitops.image_tag_key: {key}",
            )
        values_file = str(gitops.get("values_file") or "")
        if values_file and not repo.exists(values_file):
            yield Violation(
                f"environment {env}",
                f"gitops.values_file {values_file} does not exist",
                file=where,
                path=("gitops", "values_file"),
                fix="point it at helm/values-<env>.yaml",
            )
    for name in params["writers"]:
        script = repo.script(name)
        if script is None:
            continue
        for other in sorted({m.group(1) for m in _YQ_PATH.finditer(script.text)} - {key}):
            yield script.violation(
                f"writes .{other}, but the chart reads .{key}", fix=f"write .{key}"
            )
    chart = repo.chart
    if chart is None:
        return
    if not _has_key(chart.values, key):
        yield Violation(
            f"chart {chart.path}",
            f"values.yaml has no {key}",
            file=f"{chart.path}/values.yaml",
            fix=f"declare {key} in values.yaml",
        )
    if not any(f".Values.{key}" in text for text in chart.templates.values()):
        yield Violation(
            f"chart {chart.path}",
            f"no template reads .Values.{key}",
            file=f"{chart.path}/templates",
            fix=f"build the image reference from .Values.{key}",
        )
    for env, env_values in chart.values_files.items():
        if not _has_key(env_values.data, key):
            yield Violation(
                f"chart {chart.path}",
                f"{env_values.file} ({env}) does not set {key}",
                file=env_values.file,
                line=1,
                fix=f"set {key} in {env_values.file}: each environment's tag lives there",
            )


def _project_refs(bundle: Bundle) -> Iterator[tuple[Obj, str, tuple[str, ...]]]:
    """(object, project, path) of every Application and ApplicationSet template."""
    for app in bundle.of_kind("Application"):
        yield app, str(app.get("spec", "project") or ""), ("spec", "project")
    for appset in bundle.of_kind("ApplicationSet"):
        path = ("spec", "template", "spec", "project")
        yield appset, str(appset.get(*path) or ""), path


@check("project-exists", "repo")
def project_exists(repo: Repo, params: Params) -> Iterator[Violation]:
    if repo.argocd is None:
        return
    created = {project.name for project in repo.argocd.of_kind("AppProject")}
    for obj, project, path in _project_refs(repo.argocd):
        # "default" is ArgoCD's own; a templated project is project-not-default's finding.
        if project in ("", "default") or "{{" in project or project in created:
            continue
        yield obj.violation(
            f'uses AppProject "{project}", which no file in {repo.argocd.name}/ creates',
            path=path,
        )


@check("standalone-files", "repo")
def standalone_files(repo: Repo, params: Params) -> Iterator[Violation]:
    if repo.argocd is None:
        return
    projects = repo.argocd.of_kind("AppProject")
    for obj, project, path in _project_refs(repo.argocd):
        if project in ("", "default") or "{{" in project:
            continue
        if not any(p.name == project and p.file == obj.file for p in projects):
            yield obj.violation(
                f'uses AppProject "{project}", which {obj.file} does not create itself: '
                f"`kubectl apply -f {obj.file}` alone leaves it without its project",
                path=path,
            )
    first: dict[str, Obj] = {}
    for project in projects:
        seen = first.setdefault(project.name, project)
        if seen is not project and seen.data != project.data:
            changes = diff(project.data, seen.data, there=f"in {seen.file}")
            yield project.violation(
                f"differs from the copy in {seen.file}: {'; '.join(changes[:3])}"
            )
