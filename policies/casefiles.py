"""Each rule's own cases: `policies/cases/<rule id>/{pass,fail}-<what>.<ext>`.

A YAML case may start with a header document `case: {...}`:
  env: production        the environment (severity and env-scoped rules)
  namespace: production  the namespace of objects that set none (default: env)
  rendered: true         treat the objects as a chart rendering
  expect: [text, ...]    a fail case's findings must contain each text
  severity: warning      a fail case's findings must have this severity
  files: [name, ...]     workflow cases: the file name of each following document
  makefile: |            workflow cases: the Makefile the steps call into
  coverage_fail_under: N workflow cases: pyproject's coverage gate
Repo-scope cases are one mapping with `argocd`, `rendered`, `workflows`, `scripts`,
`chart` and `files` keys (see policies/README.md). Scripts are `.sh` files and
Dockerfiles `.Dockerfile` files.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from policies.catalogue import CASES_DIR, POLICIES_DIR, Rule
from policies.engine import Finding, evaluate
from policies.errors import CatalogueError
from policies.inputs import rel, split_by_env
from policies.model import Bundle, Facts, Obj
from policies.service_metrics import service_metrics
from policies.sources import Chart, Repo, Script, ValuesFile, parse_dockerfile
from policies.workflows import Workflow, WorkflowSet, parse_makefile
from policies.yamlio import parse_documents, read_text

SAMPLE_SERVICE = CASES_DIR / "_service"
EXTENSIONS = (".yaml", ".sh", ".Dockerfile")
CASE_NAME = re.compile(r"^(pass|fail)[-.]")
HEADER_KEYS = {
    "env",
    "namespace",
    "rendered",
    "expect",
    "severity",
    "files",
    "makefile",
    "coverage_fail_under",
}


@dataclass
class Case:
    rule: Rule
    path: Path
    passing: bool
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return f"{self.rule.id}/{self.path.name}"


def case_dir(rule: Rule, cases_dir: Path = CASES_DIR) -> Path:
    return cases_dir / rule.id


def find_cases(rule: Rule, cases_dir: Path = CASES_DIR) -> list[Case]:
    folder = case_dir(rule, cases_dir)
    if not folder.is_dir():
        return []
    cases = []
    for path in sorted(folder.iterdir()):
        if CASE_NAME.match(path.name) and path.name.endswith(EXTENSIONS):
            cases.append(Case(rule, path, path.name.startswith("pass")))
    return cases


@cache
def sample_facts() -> Facts:
    """What the cases know about 'the service': a tiny sample module, read like the real one."""
    return Facts(service_metrics(SAMPLE_SERVICE, POLICIES_DIR), "policies/cases/_service")


def _header(docs: list[Any], where: str) -> tuple[dict[str, Any], list[Any]]:
    if docs and isinstance(docs[0], dict) and set(docs[0]) == {"case"}:
        meta = docs[0]["case"] or {}
        unknown = set(meta) - HEADER_KEYS
        if unknown:
            raise CatalogueError(f"{where}: unknown case header keys {sorted(unknown)}")
        return meta, docs[1:]
    return {}, docs


def _objects(docs: list[Any], shown: str, namespace: str | None) -> list[Obj]:
    return [
        Obj(d, shown, i, default_namespace=namespace)
        for i, d in enumerate(docs)
        if isinstance(d, dict)
    ]


def build(case: Case) -> Repo:
    """The case as a small repository holding just what the rule's scope looks at."""
    shown = rel(case.path, POLICIES_DIR.parent)
    text = read_text(case.path, "case file")
    facts = sample_facts()
    scope = case.rule.scope
    if case.path.suffix == ".sh":
        return Repo(root=".", scripts=[Script(shown, text)], facts=facts)
    if case.path.name.endswith(".Dockerfile"):
        return Repo(root=".", dockerfiles=[parse_dockerfile(shown, text)], facts=facts)
    docs = parse_documents(text, shown)
    meta, docs = _header(docs, shown)
    case.meta = meta
    if scope in ("workloads", "manifests"):
        env = meta.get("env")
        objects = _objects(docs, shown, meta.get("namespace", env))
        bundle = Bundle(
            f"case {case.path.name}",
            objects,
            env=env,
            facts=facts,
            values_files=("case",) if meta.get("rendered") else (),
        )
        return Repo(root=".", bundles=[bundle], facts=facts)
    if scope == "workflows":
        names = meta.get("files") or [f"workflow-{i}.yaml" for i in range(len(docs))]
        workflows = _workflows(
            zip(names, docs, strict=False), meta.get("makefile"), meta.get("coverage_fail_under")
        )
        return Repo(root=".", workflows=workflows, facts=facts)
    if scope == "repo":
        return _repo_case(docs[0] if docs else {}, shown, facts, case)
    raise CatalogueError(f"{shown}: cannot build a case for scope {scope!r}")


def _repo_case(data: dict[str, Any], shown: str, facts: Facts, case: Case) -> Repo:
    case.meta = data.get("case") or {}
    envs = ("dev", "staging", "production", "lab")
    argocd_objects = [
        Obj(doc, f"argocd/{name}", i)
        for name, docs in (data.get("argocd") or {}).items()
        for i, doc in enumerate(docs)
    ]
    argocd = Bundle("argocd", argocd_objects, facts=facts) if argocd_objects else None
    bundles = [
        Bundle(
            name,
            [
                Obj(
                    d,
                    f"helm/templates/{d.get('kind', 'x').lower()}.yaml",
                    0,
                    rendered=True,
                    default_namespace=name.split("-")[0],
                )
                for d in docs
            ],
            env=name.split("-")[0],
            facts=facts,
            values_files=("case",),
        )
        for name, docs in (data.get("rendered") or {}).items()
    ]
    if argocd is not None:
        bundles.extend(split_by_env("argocd", argocd_objects, envs, facts))
    workflows = None
    if data.get("workflows"):
        workflows = _workflows(data["workflows"].items(), data.get("makefile"))
    scripts = [Script(name, text) for name, text in (data.get("scripts") or {}).items()]
    chart = None
    if data.get("chart"):
        spec = data["chart"]
        chart = Chart(
            path=spec.get("path", "helm"),
            name=spec.get("name", "sre-platform"),
            values=spec.get("values") or {},
            values_files={
                env: ValuesFile(env, f"helm/values-{env}.yaml", values)
                for env, values in (spec.get("values_files") or {}).items()
            },
            templates=spec.get("templates") or {},
        )
    texts = {str(name): str(text) for name, text in (data.get("texts") or {}).items()}
    files = frozenset([*(str(f) for f in data.get("files") or []), *texts])
    return Repo(
        root=".",
        bundles=bundles,
        argocd=argocd,
        workflows=workflows,
        scripts=scripts,
        chart=chart,
        facts=facts,
        files=files,
        environments=data.get("environments") or {},
        texts=texts,
        commits=frozenset(data["commits"]) if "commits" in data else None,
    )


def _workflows(
    named: Iterable[tuple[str, dict[Any, Any]]], makefile: str | None, coverage: Any = None
) -> WorkflowSet:
    """A case's workflows folder: (file name, workflow) pairs and the Makefile they call."""
    items = [Workflow.parsed(f".github/workflows/{name}", doc) for name, doc in named]
    return WorkflowSet(".github/workflows", items, parse_makefile(makefile or ""), coverage)


def run_case(case: Case) -> list[Finding]:
    """The case's findings for its own rule only."""
    return evaluate(case.rule, build(case))


def orphans(rules: list[Rule], cases_dir: Path = CASES_DIR) -> list[Path]:
    """Case folders that belong to no rule (a renamed or deleted rule left them behind)."""
    known = {case_dir(rule, cases_dir) for rule in rules}
    found = []
    for path in sorted(cases_dir.rglob("*")):
        if path.is_file() and CASE_NAME.match(path.name) and path.parent not in known:
            found.append(path)
    return found
