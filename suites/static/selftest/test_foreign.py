"""The foreign corpus: small repositories shaped like other teams' (suites/static/foreign/),
each judged by the tier as `pytest suites/static --repo <it>` would, against the outcome
written next to it in `<name>.expected.yaml`: the exit code and every policy finding,
linter finding, schema error and `helm lint` failure, or the one line of a bad input.

An expected file is written after reading each finding against the repository: a finding
there is a real problem of that repository, never one of this repository's conventions.
To see a repository's outcome as the expected file holds it:
    .venv/bin/python -m suites.static.selftest.test_foreign <name>
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from fixtures.static.config import build_config
from fixtures.static.linter_findings import parse
from fixtures.static.schemas import NoSchema, validate
from fixtures.static.session import StaticSession, preflight
from policies.catalogue import load_catalogue
from policies.errors import InputError
from policies.model import Severity

SUITE = Path(__file__).resolve().parents[3]
CORPUS = SUITE / "suites" / "static" / "foreign"
REPOS = sorted(p.name for p in CORPUS.iterdir() if p.is_dir())


def _shown(text: str, repo: Path) -> str:
    return text.replace(f"{repo}/", "").replace(str(repo), ".")


def outcome(repo: Path) -> dict[str, Any]:
    """The tier's verdict on `repo`: what `pytest suites/static --repo repo` reports."""
    try:
        config = build_config(SUITE, lambda o: str(repo) if o.dest == "repo" else None, cwd=SUITE)
        preflight(config)
    except InputError as err:
        return {"exit": err.exit_code, "error": _shown(str(err), repo)}
    session = StaticSession(config, load_catalogue(), [])
    try:
        session.start()
        session.start_linters()
        failure = session.render_failure()
        if failure is not None:
            return {"exit": failure.exit_code, "error": _shown(str(failure), repo)}
        results = session.results
        findings = sorted(
            {
                f"{f.severity} {f.text().rsplit('. Fix: ', 1)[0]}"
                for f in results.findings
                if f.severity is not Severity.OFF
            }
        )
        linters = sorted(
            f"{f.file}:{f.line} [{f.tool} {f.rule}]"
            for result in session.lint_results()
            for f in parse(result)
        )
        lint_failed = [r.tool for r in session.lint_results() if not r.ok]
        helm_lint = sorted(env for env in config.envs if session.lint(env)[1] is not None)
        schema = sorted(_schema_errors(session))
        skipped = sorted(f"{o.ref} ({o.file})" for o in session.skipped)
    finally:
        session.close()
    failed = bool(results.failures or lint_failed or helm_lint or schema)
    return {
        "exit": 1 if failed else 0,
        "findings": findings,
        "linters": linters,
        "schema": schema,
        "helm_lint_fails": helm_lint,
        "skipped": skipped,
    }


def _schema_errors(session: StaticSession) -> list[str]:
    objects = {id(o): o for b in session.repo.bundles for o in b.objects}
    if session.repo.argocd is not None:
        objects |= {id(o): o for o in session.repo.argocd.objects}
    errors = []
    for obj in objects.values():
        try:
            errors += [f"{obj.ref}: {p}" for p in validate(obj.data, session.config.kube_version)]
        except NoSchema:
            continue
    return errors


def expected(name: str) -> dict[str, Any]:
    path = CORPUS / f"{name}.expected.yaml"
    assert path.is_file(), f"{path.name} is missing: write it from the outcome (see the docstring)"
    data = yaml.safe_load(path.read_text())
    assert isinstance(data, dict), f"{path.name}: expected a mapping"
    return data


@pytest.mark.parametrize("name", REPOS)
def test_corpus_repository(name: str) -> None:
    want, got = expected(name), outcome(CORPUS / name)
    for key in sorted(set(want) | set(got)):
        if key in ("exit", "error"):
            assert got.get(key) == want.get(key), f"{key}: got {got.get(key)!r}"
            continue
        missing = [x for x in want.get(key) or [] if x not in (got.get(key) or [])]
        extra = [x for x in got.get(key) or [] if x not in (want.get(key) or [])]
        assert not missing and not extra, (
            f"{name} {key}:\n  expected, not reported:\n    "
            + "\n    ".join(missing or ["-"])
            + "\n  reported, not expected:\n    "
            + "\n    ".join(extra or ["-"])
        )


def test_the_corpus_has_the_shapes_the_issue_names() -> None:
    """A Deployment-only chart, a Rollout chart with job/web analysis, plain manifests with
    workloadRef and ClusterAnalysisTemplates, an app-of-apps, no workflows, a broken chart."""
    assert {
        "deployment-chart",
        "rollout-chart",
        "raw-manifests",
        "app-of-apps",
        "no-workflows",
        "broken-chart",
    } <= set(REPOS)


if __name__ == "__main__":
    from fixtures.tools import tool_path
    from policies import conditions

    conditions.use(tool_path("rollouts-evaluate"))
    for arg in sys.argv[1:] or REPOS:
        print(f"# {arg}.expected.yaml")
        print(yaml.safe_dump(outcome(CORPUS / arg), sort_keys=False, width=1000))
