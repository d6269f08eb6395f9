"""Turn a repository (or a rule case) into the engine's `Repo`: bundles, workflows, scripts.

Rendering itself is not done here (that needs the helm binary: `fixtures/render.py`); this
module parses what helm printed, and loads every other input with errors that name the file.
"""

from __future__ import annotations

import functools
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from policies.errors import InputError, MissingInput
from policies.model import CLUSTER_SCOPED, Bundle, Facts, Obj
from policies.service_metrics import service_metrics
from policies.sources import (
    Chart,
    Dockerfile,
    Repo,
    Script,
    ValuesFile,
    parse_dockerfile,
)
from policies.workflows import Workflow, WorkflowSet, parse_makefile
from policies.yamlio import load_mapping, parse_documents, read_text

_SOURCE = re.compile(r"^# Source: (\S+)", re.MULTILINE)
_SEPARATOR = re.compile(r"^---[ \t]*$", re.MULTILINE)


def rel(path: Path, root: Path) -> str:
    """A path as shown to people: repository-relative when inside the repository."""
    if path.is_absolute() and root.is_absolute() and ".." not in path.parts:
        try:  # the common case, without resolve()'s system calls
            return path.relative_to(root).as_posix()
        except ValueError:
            pass
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return str(path)


def objects_from_helm(text: str, chart_dir: str, namespace: str | None, origin: str) -> list[Obj]:
    """Objects of `helm template` output, each tagged with the template that produced it."""
    return list(_helm_objects(text, chart_dir, namespace, origin))


# The same rendering parses to the same objects (nothing writes to an Obj): the static
# tier's mutation self-tests re-read ~30 copies of this repository, most renderings unchanged.
@functools.lru_cache(maxsize=32)
def _helm_objects(text: str, chart_dir: str, namespace: str | None, origin: str) -> tuple[Obj, ...]:
    objects: list[Obj] = []
    for chunk in _SEPARATOR.split(text):
        if not chunk.strip():
            continue
        match = _SOURCE.search(chunk)
        source = match.group(1) if match else ""
        prefix = f"{chart_dir}/" if chart_dir not in ("", ".") else ""
        template = f"{prefix}{source.split('/', 1)[1]}" if "/" in source else chart_dir
        for doc in parse_documents(chunk, f"{origin} ({source or 'helm output'})"):
            if isinstance(doc, dict) and doc.get("kind"):
                objects.append(Obj(doc, template, 0, rendered=True, default_namespace=namespace))
    return tuple(objects)


def is_test_hook(obj: Obj) -> bool:
    """A Helm test hook (`helm.sh/hook: test`, or the older test-success/test-failure)."""
    annotations = obj.metadata.get("annotations")
    hook = annotations.get("helm.sh/hook") if isinstance(annotations, dict) else None
    return isinstance(hook, str) and any(
        part.strip() in ("test", "test-success", "test-failure") for part in hook.split(",")
    )


def without_test_hooks(objects: list[Obj]) -> tuple[list[Obj], list[Obj]]:
    """(objects to judge, Helm test hooks): test hooks run only on `helm test`, never in a
    release or an Argo CD sync (Argo CD skips them), so the workload rules do not judge
    them; the tier lists them as skipped."""
    kept: list[Obj] = []
    hooks: list[Obj] = []
    for obj in objects:
        (hooks if is_test_hook(obj) else kept).append(obj)
    return kept, hooks


def objects_from_file(path: Path, root: Path, namespace: str | None = None) -> list[Obj]:
    return objects_from_text(read_text(path, "manifest"), rel(path, root), namespace, str(path))


def objects_from_text(
    text: str, shown: str, namespace: str | None = None, name: str | None = None
) -> list[Obj]:
    """The Kubernetes objects of a YAML stream (Lists unpacked); `shown` names the file."""
    objects = []
    for index, doc in enumerate(parse_documents(text, name or shown)):
        if doc is None:
            continue
        if not isinstance(doc, dict):
            raise InputError(
                f"{shown}: document {index + 1} is a {type(doc).__name__}, not an object"
            )
        if doc.get("kind") == "List":
            for item in doc.get("items") or []:
                if isinstance(item, dict):
                    objects.append(Obj(item, shown, index, default_namespace=namespace))
        elif doc:
            objects.append(Obj(doc, shown, index, default_namespace=namespace))
    return objects


def split_by_env(name: str, objects: list[Obj], envs: Iterable[str], facts: Facts) -> list[Bundle]:
    """Plain manifests grouped by namespace, so an environment's severity applies to its objects;
    cluster-scoped objects belong to every group (a Rollout finds its ClusterAnalysisTemplate)."""
    known = set(envs)
    groups: dict[str | None, list[Obj]] = {}
    shared = [obj for obj in objects if obj.kind in CLUSTER_SCOPED]
    for obj in objects:
        if obj.kind in CLUSTER_SCOPED:
            continue
        namespace = obj.metadata.get("namespace")
        env = namespace if namespace in known else None
        groups.setdefault(env, []).append(obj)
    if shared and not groups:
        groups[None] = []
    bundles = []
    for env, members in sorted(groups.items(), key=lambda kv: kv[0] or ""):
        label = f"{name} ({env})" if env else name
        bundles.append(Bundle(label, [*members, *shared], env=env, facts=facts))
    return bundles


def load_workflows(
    folder: Path, root: Path, makefile: Path | None, pyproject: Path | None
) -> WorkflowSet:
    if not folder.is_dir():
        raise MissingInput(f"{folder}: workflows folder does not exist")
    workflows = []
    for path in sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")]):
        workflows.append(Workflow.parsed(rel(path, root), load_mapping(path, "workflow")))
    recipes = parse_makefile(read_text(makefile)) if makefile and makefile.is_file() else {}
    return WorkflowSet(rel(folder, root), workflows, recipes, coverage_fail_under(pyproject))


def coverage_fail_under(pyproject: Path | None) -> float | None:
    if pyproject is None or not pyproject.is_file():
        return None
    try:
        data = tomllib.loads(read_text(pyproject))
    except tomllib.TOMLDecodeError as err:
        raise InputError(f"{pyproject}: malformed TOML: {err}") from None
    value = data.get("tool", {}).get("coverage", {}).get("report", {}).get("fail_under")
    return float(value) if isinstance(value, (int, float)) else None


def load_chart(chart_dir: Path, root: Path, values: Mapping[str, Path]) -> Chart:
    chart_file = chart_dir / "Chart.yaml"
    meta = load_mapping(chart_file, "Chart.yaml")
    templates = {
        rel(p, root): read_text(p)
        for p in sorted((chart_dir / "templates").rglob("*"))
        if p.is_file() and p.suffix in (".yaml", ".yml", ".tpl", ".txt")
    }
    files = {
        env: ValuesFile(env, rel(path, root), load_mapping(path, "values file"))
        for env, path in values.items()
    }
    defaults = chart_dir / "values.yaml"
    return Chart(
        path=rel(chart_dir, root),
        name=str(meta.get("name") or chart_dir.name),
        values=load_mapping(defaults, "values file") if defaults.exists() else {},
        values_files=files,
        templates=templates,
    )


def load_facts(service_dir: Path | None, root: Path) -> Facts:
    if service_dir is None or not service_dir.is_dir():
        return Facts(service_metrics_source=str(service_dir) if service_dir else "")
    return Facts(service_metrics(service_dir, root), service_metrics_source=rel(service_dir, root))


@dataclass
class Rendered:
    """One helm rendering to check: a name, its environment, and helm's output."""

    name: str
    env: str
    namespace: str
    values_files: tuple[str, ...]
    manifest: str
    chart_dir: str | None = None  # another chart than the repository's (a --variant +CHART)


@dataclass
class RepoInputs:
    root: Path
    environments: tuple[str, ...]
    chart_dir: Path | None = None
    values: dict[str, Path] = field(default_factory=dict)
    argocd_dir: Path | None = None  # names the Argo CD bundle; its files are argocd_files
    argocd_files: tuple[Path, ...] = ()
    workflows_dir: Path | None = None
    scripts: tuple[Path, ...] = ()
    dockerfiles: tuple[Path, ...] = ()
    service_dir: Path | None = None
    generated: tuple[str, ...] = ()  # argocd files rendered from the chart: judged through it
    manifests: tuple[Path, ...] = ()  # plain Kubernetes manifests
    stdin_manifests: str | None = None  # manifests piped in (kustomize build output)
    makefile: Path | None = None
    pyproject: Path | None = None


STDIN = "<stdin>"


def manifest_objects(inputs: RepoInputs) -> list[Obj]:
    """The plain manifests' objects (files, then what came on stdin)."""
    objects = [obj for path in inputs.manifests for obj in objects_from_file(path, inputs.root)]
    if inputs.stdin_manifests is not None:
        objects += objects_from_text(inputs.stdin_manifests, STDIN)
    return objects


def build_repo(
    inputs: RepoInputs, renders: Iterable[Rendered], environment_names: Iterable[str] = ()
) -> Repo:
    """The engine's view of a repository; `environment_names` are namespaces that name an
    environment (for the severities of plain manifests)."""
    root = inputs.root
    facts = load_facts(inputs.service_dir, root)
    chart_path = rel(inputs.chart_dir, root) if inputs.chart_dir else ""
    bundles = []
    for r in renders:
        judged, hooks = without_test_hooks(
            objects_from_helm(r.manifest, r.chart_dir or chart_path, r.namespace, r.name)
        )
        bundle = Bundle(r.name, judged, env=r.env, facts=facts, values_files=r.values_files)
        bundle.skipped = hooks
        bundles.append(bundle)
    known_envs = {*inputs.environments, *environment_names}
    argocd = None
    if inputs.argocd_files:
        label = rel(inputs.argocd_dir, root) if inputs.argocd_dir else "argocd"
        objects = [obj for path in inputs.argocd_files for obj in objects_from_file(path, root)]
        generated = {f"{label}/{name}" for name in inputs.generated}
        standalone = [obj for obj in objects if obj.file not in generated]
        bundles.extend(split_by_env(label, standalone, known_envs, facts))
        argocd = Bundle(label, objects, facts=facts)
    manifests = manifest_objects(inputs)
    if manifests:
        bundles.extend(split_by_env("manifests", manifests, known_envs, facts))
    workflows = None
    if inputs.workflows_dir is not None:
        workflows = load_workflows(inputs.workflows_dir, root, inputs.makefile, inputs.pyproject)
    scripts = [Script(rel(p, root), read_text(p, "script")) for p in inputs.scripts]
    dockerfiles: list[Dockerfile] = [
        parse_dockerfile(rel(p, root), read_text(p, "Dockerfile")) for p in inputs.dockerfiles
    ]
    chart = load_chart(inputs.chart_dir, root, inputs.values) if inputs.chart_dir else None
    return Repo(
        root=str(root),
        bundles=bundles,
        argocd=argocd,
        workflows=workflows,
        scripts=scripts,
        dockerfiles=dockerfiles,
        chart=chart,
        facts=facts,
    )


def repo_objects(data: Any, name: str) -> list[dict[str, Any]]:
    if not isinstance(data, list) or not all(isinstance(d, dict) for d in data):
        raise InputError(f"{name}: expected a list of objects")
    return data
