"""GitOps rollback with scripts/rollback.sh (issue 6, scenario 8).

The image tag of the lab environment lives in `image.tag` of `helm/values-lab.yaml` in a
local GitOps repository: a bare repository on this machine (the "remote") and a clone,
seeded with this repository's chart and values. Versions are deployed from what git holds;
the rollback is `scripts/rollback.sh lab "<reason>" --repo <clone>`, which must revert the
commit, push without force, apply the previous version from git (with helm: the path of an
environment that ArgoCD does not manage; test_gitops.py covers the ArgoCD path), wait until
Healthy and commit an incident record.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from fixtures.core.helm import deep_merge, install
from fixtures.core.tools import REPO_ROOT
from fixtures.e2e.scenario import Scenario

pytestmark = pytest.mark.e2e

VALUES = "helm/values-lab.yaml"  # gitops.values_file of environments/lab.yaml
GITOPS = REPO_ROOT / "scripts" / "lib" / "gitops.py"
# The tier's own values on top of the environment's: a short canary without analysis (the
# path through git is what this scenario proves; scenarios 1-4 prove the analysis).
SHORT_CANARY = {
    "rollouts": {"canary": {"steps": [{"setWeight": 50}, {"pause": {"duration": "1s"}}]}}
}


def tier_values(scenario: Scenario) -> dict[str, Any]:
    """The short canary on top of the platform's values (kind: its environment values file
    and the session's database), never an image tag: the tag is what git holds."""
    env = scenario.environment_values
    values = yaml.safe_load(env.read_text()) if env else {}
    values = deep_merge(deep_merge(values, scenario.values), SHORT_CANARY)
    values.get("image", {}).pop("tag", None)
    return values


def git(repo: Path, *args: str) -> str:
    result = subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, f"git {' '.join(args)}: {result.stderr}"
    return result.stdout.strip()


def set_tag(repo: Path, tag: str) -> None:
    """Write the tag the way CI does: scripts/lib/gitops.py, a one-line diff, a commit, a push."""
    subprocess.run(
        ["python3", str(GITOPS), "set", str(repo / VALUES), "image.tag", tag],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    git(repo, "commit", "-q", "-m", f"lab: deploy {tag}", "--", VALUES)
    git(repo, "push", "-q", "origin", "main")


def tag_in_git(repo: Path, ref: str) -> str:
    values = yaml.safe_load(git(repo, "show", f"{ref}:{VALUES}"))
    return str(values["image"]["tag"])


@pytest.fixture
def gitops_repo(tmp_path: Path) -> tuple[Path, Path]:
    """(clone, bare remote), seeded with this repository's chart and lab values."""
    remote, clone = tmp_path / "gitops.git", tmp_path / "gitops"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(remote)], check=True)
    subprocess.run(["git", "init", "-q", "-b", "main", str(clone)], check=True)
    git(clone, "config", "user.name", "e2e operator")
    git(clone, "config", "user.email", "e2e@sre-platform.invalid")
    git(clone, "remote", "add", "origin", remote.as_uri())
    shutil.copytree(REPO_ROOT / "helm", clone / "helm")
    git(clone, "add", "helm")
    git(clone, "commit", "-q", "-m", "seed: the chart and the lab's values")
    git(clone, "push", "-q", "-u", "origin", "main")
    return clone, remote


def deploy_from_git(scenario: Scenario, clone: Path, extra: Path) -> None:
    """What the rollback does without ArgoCD: helm with the chart and values as committed."""
    export = clone.parent / f"export-{time.monotonic_ns()}"
    export.mkdir()
    archive = subprocess.run(
        ["git", "-C", str(clone), "archive", "--format=tar", "HEAD", "helm"],
        capture_output=True, check=True,
    )  # fmt: skip
    subprocess.run(["tar", "-x", "-C", str(export)], input=archive.stdout, check=True)
    scenario.deployed = install(
        scenario.cluster, scenario.namespace, chart=export / "helm",
        environment_values=export / VALUES, values_files=[extra], timeout=90,
    )  # fmt: skip


def test_rollback_reverts_in_git_and_applies_the_previous_version(
    scenario: Scenario, gitops_repo: tuple[Path, Path], tmp_path: Path
) -> None:
    clone, remote = gitops_repo
    extra = tmp_path / "e2e-values.yaml"
    extra.write_text(yaml.safe_dump(tier_values(scenario)))
    for tag in ("a", "b"):
        scenario.platform.prepare_image(tag)
    with scenario.given("version a committed to the GitOps repository and deployed from it"):
        set_tag(clone, "a")
        deploy_from_git(scenario, clone, extra)
    with scenario.and_("version b committed, pushed and deployed: Healthy on b"):
        set_tag(clone, "b")
        deploy_from_git(scenario, clone, extra)
        scenario.expect_healthy("b", timeout=90)
        before = git(clone, "rev-parse", "HEAD")

    with scenario.when('scripts/rollback.sh lab "e2e: b misbehaves" is run on that repository'):
        result = scenario.script(
            "scripts/rollback.sh", "lab", "e2e: b misbehaves", "--repo", str(clone),
            "--release", scenario.release, "--values", str(extra), "--timeout", "2m",
            *scenario.cluster_args(),
        )  # fmt: skip
    with scenario.then("it succeeds, and the Rollout is Healthy on a again"):
        assert result.returncode == 0, str(result)
        scenario.expect_healthy("a", timeout=10)
        assert scenario.rollout().image_tag == "a"

    log = git(clone, "log", "--format=%H %s", f"{before}~1..HEAD").splitlines()
    with scenario.and_("git holds a revert of b's commit, then the incident record, on top"):
        subjects = [line.split(" ", 1)[1] for line in log]
        assert subjects == [
            subjects[0],  # the incident record, checked below
            'Revert "lab: deploy b"',
            "lab: deploy b",
        ], log
        assert subjects[0].startswith("incident(lab): rollback record"), log
        revert = log[1].split()[0]
        trailers = git(clone, "log", "-1", "--format=%(trailers:only,unfold)", revert)
        for trailer in ("Rollback-Env: lab", "Rollback-From: b", "Rollback-To: a"):
            assert trailer in trailers, trailers
        assert tag_in_git(clone, "HEAD") == "a" and tag_in_git(clone, f"{revert}~1") == "b"
    with scenario.and_("it was pushed without rewriting history: the remote has it all"):
        assert git(remote, "rev-parse", "main") == git(clone, "rev-parse", "HEAD")
        subprocess.run(
            ["git", "-C", str(remote), "merge-base", "--is-ancestor", before, "main"], check=True
        )
        assert tag_in_git(remote, "main") == "a"
    with scenario.and_("the incident record names the reason, the tags and the rollback commit"):
        incidents = sorted((clone / "incidents").glob("*-lab.md"))
        assert len(incidents) == 1, incidents
        record = incidents[0].read_text()
        assert str(incidents[0].relative_to(clone)) in result.stdout, str(result)
        for expected in ("e2e: b misbehaves", "`b` -> `a`", f"| rollback commit | {revert} |"):
            assert expected in record, record
        assert "| result | Healthy after" in record, record
        assert git(clone, "status", "--porcelain") == ""
    record_figures(scenario, result.stderr)


def record_figures(scenario: Scenario, stderr: str) -> None:
    for line in stderr.splitlines():
        if "rollout: Healthy after" in line:
            scenario.record("rollback_healthy_after", line.split("Healthy after", 1)[1].strip())
