"""The reports another tool reads: the linters' findings in reports/static.sarif beside the
policy findings (each linter a SARIF run with repository-relative files) and as GitHub
annotations, on a corpus repository where all four linters find something."""

from __future__ import annotations

import json
from pathlib import Path

from fixtures.static.config import build_config
from fixtures.static.findings import sarif
from fixtures.static.linter_findings import github_annotations, parse, sarif_runs
from fixtures.static.session import StaticSession, preflight
from policies.catalogue import load_catalogue

SUITE = Path(__file__).resolve().parents[3]
CORPUS = SUITE / "suites" / "static" / "foreign"


def _session(name: str) -> StaticSession:
    repo = CORPUS / name
    config = build_config(SUITE, lambda o: str(repo) if o.dest == "repo" else None, cwd=SUITE)
    preflight(config)
    return StaticSession(config, load_catalogue(), [])


def test_linter_findings_join_the_policy_findings_in_sarif() -> None:
    sessions = [_session("deployment-chart"), _session("rollout-chart")]
    try:
        lint = [r for s in sessions for r in s.lint_results()]
        log = sarif(sessions[0].results.findings, sessions[0].catalogue, sessions[0].locator)
        log["runs"] += sarif_runs(lint, sessions[0].config.root)
    finally:
        for session in sessions:
            session.close()
    runs = {run["tool"]["driver"]["name"]: run for run in log["runs"]}
    assert set(runs) == {"sre-platform-static", "actionlint", "Hadolint", "shellcheck", "zizmor"}
    located = {
        (name, result["ruleId"], loc["physicalLocation"]["artifactLocation"]["uri"])
        for name, run in runs.items()
        for result in run["results"]
        for loc in result.get("locations") or []
    }
    assert ("zizmor", "zizmor/unpinned-uses", ".github/workflows/ci.yml") in located
    assert ("Hadolint", "DL3008", "Dockerfile") in located
    assert ("actionlint", "shellcheck", ".github/workflows/ci.yml") in located
    assert ("shellcheck", "SC2046", "scripts/promote.sh") in located
    for run in log["runs"][1:]:
        assert "%SRCROOT%" in run["originalUriBaseIds"]
        for result in run["results"]:
            for loc in result["locations"]:
                assert loc["physicalLocation"]["artifactLocation"]["uriBaseId"] == "%SRCROOT%"
                assert "logicalLocations" not in loc
    json.dumps(log)  # serialisable as is


def test_linter_findings_become_annotations() -> None:
    session = _session("deployment-chart")
    try:
        lint = session.lint_results()
    finally:
        session.close()
    lines = github_annotations(lint)
    assert any(
        line.startswith("::warning file=Dockerfile,line=3,col=1,title=hadolint DL3008::Pin")
        for line in lines
    ), lines
    assert any("title=zizmor zizmor/unpinned-uses::" in line for line in lines), lines
    assert all("\n" not in line and line.count("::") == 2 for line in lines)
    assert sum(len(parse(r)) for r in lint) == len(lines)
