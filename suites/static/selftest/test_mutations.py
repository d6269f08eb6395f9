"""Break one thing in a copy of this repository's real config; the tier must fail with that
rule's message. These are the issue's examples (a latest tag, a removed PDB, production
anti-affinity removed, a changed canary step, removed analysis, production auto-sync, an
unpinned action, Trivy's exit code removed, a lowered coverage gate, a script without
strict mode) and a few more that only this suite can catch."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from fixtures.static.config import relocate
from fixtures.static.session import StaticSession
from policies.engine import evaluate
from policies.model import Severity

COPY = (
    "helm",
    "argocd",
    "environments",
    ".github",
    ".trivyignore.yaml",
    "scripts",
    "app/sre_platform",
    "Dockerfile",
    "Makefile",
    "pyproject.toml",
    "tools/versions.env",
    "deploy",
    "judge/chart",
    "judge/Dockerfile",
    "judge/requirements.lock",
)


def replace_once(path: Path, old: str, new: str) -> None:
    """Edit a file; fail loudly if the text to break is no longer there (the config moved on)."""
    text = path.read_text()
    assert old in text, f"mutation out of date: {old!r} is not in {path.name}"
    path.write_text(text.replace(old, new, 1))


def set_yaml(path: Path, dotted: str, value: Any, doc: int = 0) -> None:
    """Set a key in one document of a YAML file (comments are not kept: this is a copy)."""
    docs = list(yaml.load_all(path.read_text(), Loader=yaml.CSafeLoader))
    node = docs[doc]
    *parents, last = dotted.split(".")
    for key in parents:
        node = node.setdefault(key, {})
    node[last] = value
    path.write_text(yaml.dump_all(docs, Dumper=yaml.CSafeDumper, sort_keys=False))


def production_steps(root: Path, steps: list[dict[str, Any]]) -> None:
    set_yaml(root / "helm/values-production.yaml", "rollouts.canary.steps", steps)


SEED_STEPS = [
    {"setWeight": 5},
    {"analysis": {"count": 4}},
    {"setWeight": 20},
    {"analysis": {"count": 6}},
    {"setWeight": 50},
    {"analysis": {"count": 10}},
    {"setWeight": 80},
    {"analysis": {"count": 6}},
]


@dataclass(frozen=True)
class Mutation:
    name: str
    rule: str
    says: str
    apply: Callable[[Path], None]
    where: str | None = None  # file the finding must point at
    edits: str | None = None  # top-level folder it edits, when the rule's group does not say

    @property
    def copies(self) -> str:
        """The top-level folder the mutation edits (copied; everything else is linked)."""
        if self.edits:
            return self.edits
        group = self.rule.split("/")[0]
        return {"argocd": "argocd", "workflows": ".github", "scripts": "scripts"}.get(group, "helm")


MUTATIONS = [
    # `latest` itself the values schema already refuses (test_chart.py); a branch name it allows.
    Mutation(
        "mutable image tag",
        "images/explicit-tag",
        'uses the mutable tag "main"',
        lambda r: set_yaml(r / "helm/values-production.yaml", "image.tag", "main"),
        where="helm/values-production.yaml",
    ),
    Mutation(
        "PDB removed",
        "availability/pdb-covers-workload",
        "no PodDisruptionBudget selects its pods",
        lambda r: set_yaml(r / "helm/values-production.yaml", "podDisruptionBudget.enabled", False),
    ),
    Mutation(
        "production anti-affinity removed",
        "availability/pod-anti-affinity",
        "no podAntiAffinity term",
        lambda r: set_yaml(r / "helm/values-production.yaml", "podAntiAffinity", "none"),
    ),
    Mutation(
        "production zone spread removed",
        "availability/zone-spread",
        "no topologySpreadConstraint",
        lambda r: set_yaml(r / "helm/values-production.yaml", "topologySpread.enabled", False),
    ),
    Mutation(
        "canary step changed",
        "rollouts/production-canary",
        "canary weights are 10/20/50/80",
        lambda r: production_steps(r, [{"setWeight": 10}, *SEED_STEPS[1:]]),
    ),
    Mutation(
        "canary step shortened",
        "rollouts/production-canary",
        "the canary stays 1m at 50%",
        lambda r: production_steps(
            r, [*SEED_STEPS[:5], {"analysis": {"count": 2}}, *SEED_STEPS[6:]]
        ),
    ),
    Mutation(
        "analysis removed",
        "rollouts/production-canary",
        "no analysis runs while the canary is at 80%",
        lambda r: production_steps(r, [*SEED_STEPS[:7], {"pause": {"duration": "3m"}}]),
    ),
    Mutation(
        "success threshold lowered",
        "analysis/thresholds",
        "does not pass exactly success rate >= 0.99",
        lambda r: set_yaml(
            r / "helm/values-production.yaml", "analysis.successRate", {"minimum": 0.95}
        ),
    ),
    Mutation(
        "metric name typo",
        "analysis/metric-names",
        "queries http_request_total",
        lambda r: replace_once(
            r / "helm/templates/analysistemplates.yaml",
            "sum(rate(http_requests_total{",
            "sum(rate(http_request_total{",
        ),
    ),
    Mutation(
        "no-data guard removed",
        "analysis/no-data-fails",
        "no data (empty result) makes the condition error",
        lambda r: replace_once(
            r / "helm/templates/analysistemplates.yaml",
            'successCondition: "len(result) > 0 && !isNaN(result[0]) && result[0] >= ',
            'successCondition: "result[0] >= ',
        ),
    ),
    Mutation(
        "blue-green window shortened",
        "rollouts/blue-green-window",
        "scaleDownDelaySeconds is 30",
        lambda r: set_yaml(
            r / "helm/values-production.yaml", "rollouts.blueGreen", {"scaleDownDelaySeconds": 30}
        ),
    ),
    Mutation(
        "HPA aimed at the Deployment",
        "autoscaling/hpa-target",
        "is not rendered",
        lambda r: replace_once(
            r / "helm/templates/hpa.yaml",
            'kind: {{ include "sre-platform.workloadKind" . }}',
            "kind: Deployment",
        ),
    ),
    Mutation(
        "production auto-sync (Application)",
        "argocd/production-manual-sync",
        "production syncs automatically",
        lambda r: set_yaml(
            r / "argocd/application.yaml",
            "spec.syncPolicy.automated",
            {"prune": True, "selfHeal": True},
            doc=3,
        ),
    ),
    Mutation(
        "production auto-sync (ApplicationSet)",
        "argocd/production-manual-sync",
        "(generated Application sre-platform-production): production syncs automatically",
        lambda r: replace_once(
            r / "argocd/applicationset.yaml", "autoSync: false", "autoSync: true"
        ),
    ),
    Mutation(
        "staging manual sync",
        "argocd/staging-auto-sync",
        "staging does not sync automatically",
        lambda r: set_yaml(r / "argocd/application.yaml", "spec.syncPolicy.automated", None, doc=2),
    ),
    Mutation(
        "action unpinned",
        "workflows/actions-pinned",
        "uses actions/checkout@v5, not pinned by commit SHA",
        lambda r: replace_once(
            r / ".github/workflows/ci-pipeline.yaml",
            "actions/checkout@08c6903cd8c0fde910a37f88322edcfb5dd907a8",
            "actions/checkout@v5",
        ),
        where=".github/workflows/ci-pipeline.yaml",
    ),
    Mutation(
        "Trivy exit code removed",
        "workflows/trivy-gate",
        "findings never fail the build",
        lambda r: replace_once(
            r / ".github/workflows/ci-pipeline.yaml", "exit-code: '1'", "exit-code: '0'"
        ),
    ),
    Mutation(
        "Trivy gate lets unfixed findings through",
        "workflows/trivy-gate",
        "ignores unfixed vulnerabilities",
        lambda r: replace_once(
            r / ".github/workflows/ci-pipeline.yaml",
            "exit-code: '1'",
            "exit-code: '1'\n          ignore-unfixed: true",
        ),
    ),
    Mutation(
        "an expired Trivy exception",
        "workflows/trivy-ignores-reviewed",
        "expired on 2024-01-31",
        edits=".trivyignore.yaml",
        apply=lambda r: replace_once(
            r / ".trivyignore.yaml",
            "vulnerabilities: []",
            "vulnerabilities:\n  - {id: CVE-2024-1, statement: no fix yet, expired_at: 2024-01-31}",
        ),
    ),
    Mutation(
        "coverage gate lowered",
        "workflows/coverage-gate",
        "is fail-under 70, below 80",
        lambda r: replace_once(
            r / ".github/workflows/ci-pipeline.yaml", "--cov-fail-under=80", "--cov-fail-under=70"
        ),
    ),
    Mutation(
        "validate tier's SLO differs from the canary's",
        "analysis/thresholds-match-environment",
        "does not gate at slo.success_rate_min = 0.995 of environments/production.yaml",
        lambda r: set_yaml(r / "environments/production.yaml", "slo.success_rate_min", 0.995),
        edits="environments",
    ),
    Mutation(
        "the judge's threshold in the environment file differs from the canary's",
        "judge/matches-environment",
        "differs from environments/production.yaml: latency.max_ratio = 1.5, the chart's "
        "latency.maxRatio 1.2",
        lambda r: set_yaml(r / "environments/production.yaml", "judge.latency.max_ratio", 1.5),
        edits="environments",
    ),
    Mutation(
        "the lab's judge URL differs from its values while the analysis keeps it off",
        "judge/matches-environment",
        "judge: differs from the chart's analysis.judge (off in its analysis): url",
        lambda r: set_yaml(r / "environments/lab.yaml", "judge.url", "http://127.0.0.1:16971"),
        edits="environments",
    ),
    # The judge's own chart (judge/chart, the variant judge-production) meets the workload
    # rules of the service's chart.
    Mutation(
        "the judge's Deployment may go below its replicas during an update",
        "workload/fallback-rolling-update",
        "Deployment/production/sre-judge: rollingUpdate is maxSurge 25% / maxUnavailable 1",
        lambda r: replace_once(
            r / "judge/chart/templates/deployment.yaml", "maxUnavailable: 0", "maxUnavailable: 1"
        ),
        where="judge/chart/templates/deployment.yaml",
        edits="judge/chart",
    ),
    Mutation(
        "the judge's container with a writable root filesystem",
        "pod-security/read-only-root-filesystem",
        "Deployment/production/sre-judge",
        lambda r: replace_once(
            r / "judge/chart/templates/deployment.yaml",
            "readOnlyRootFilesystem: true",
            "readOnlyRootFilesystem: false",
        ),
        edits="judge/chart",
    ),
    Mutation(
        "the judge's chart without a PodDisruptionBudget",
        "availability/pdb-covers-workload",
        "Deployment/production/sre-judge",
        lambda r: (r / "judge/chart/templates/pdb.yaml").unlink(),
        edits="judge/chart",
    ),
    Mutation(
        "the judge's image runs as root",
        "docker/non-root-user",
        "judge/Dockerfile",
        lambda r: replace_once(r / "judge/Dockerfile", "USER 10001:10001\n", ""),
        edits="judge/Dockerfile",
    ),
    Mutation(
        "script without strict mode",
        "scripts/strict-mode",
        "does not start with set -euo pipefail",
        lambda r: replace_once(r / "scripts/rollback.sh", "set -euo pipefail\n", "set -e\n"),
        where="scripts/rollback.sh",
    ),
]


def copy_repo(root: Path, target: Path, editable: str) -> None:
    """Link the repository's inputs into `target`, copying only the folder that gets edited."""
    for name in COPY:
        source, dest = root / name, target / name
        if not source.exists():
            continue
        dest.parent.mkdir(parents=True, exist_ok=True)
        if name == editable and source.is_file():
            shutil.copy2(source, dest)
        elif name == editable:
            shutil.copytree(source, dest, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            dest.symlink_to(source, target_is_directory=source.is_dir())


@pytest.mark.parametrize("mutation", MUTATIONS, ids=[m.name for m in MUTATIONS])
def test_breaking_the_config_fails_with_the_rule(
    static: StaticSession, tmp_path: Path, mutation: Mutation
) -> None:
    rule = static.catalogue.get(mutation.rule)
    copy_repo(static.config.root, tmp_path, mutation.copies)
    mutation.apply(tmp_path)
    broken = StaticSession(relocate(static.config, tmp_path), static.catalogue, [])
    try:
        assert not broken.render_failures(), "\n".join(broken.render_failures())
        findings = [f for f in evaluate(rule, broken.repo) if f.severity is Severity.ERROR]
    finally:
        broken.close()
    texts = [f.text() for f in findings]
    matching = [f for f, t in zip(findings, texts, strict=True) if mutation.says in t]
    assert matching, (
        f"{mutation.name}: no [{rule.id}] error says {mutation.says!r}; findings:\n"
        + ("\n".join(texts) or "(none)")
    )
    if mutation.where:
        location = broken.locator.locate(matching[0])
        assert location is not None and location.file == mutation.where, (
            f"the finding points at {location}, expected {mutation.where}"
        )
