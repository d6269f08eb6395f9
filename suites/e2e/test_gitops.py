"""GitOps scenarios (issue 9): git -> ArgoCD -> Argo Rollouts, replayed in the lab.

The whole delivery path runs with the real pieces (fixtures.e2e.gitops_scenario): a local
GitOps repository (a copy of this working tree) that ArgoCD's real repo-server clones and
renders with the pinned helm; the real application controller (fixtures.gitops.argocd)
syncing this repository's own Applications (argocd/application.yaml, rewritten for the lab);
Argo Rollouts running the canary with the chart's analysis against the lab's Prometheus, fed
by the SIMULATED traffic (fixtures.traffic). The steps a person or the pipeline takes are
the repository's own scripts: CI's GitOps update, CD's sync by hand, the rollback.

Each test has its own repository, AppProject, Applications (prefixed names) and namespaces,
so the lab's standing Applications (scripts/setup-argocd.sh --lab) are never touched, and
the tests run side by side on pytest-xdist workers, sharing the lab's ArgoCD (the
conftest's session fixture `argocd_lab`).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fixtures.cluster import Cluster
from fixtures.core.kube import wait_until
from fixtures.core.rollout import API_VERSION
from fixtures.core.tools import REPO_ROOT, tool_dir, tool_version
from fixtures.e2e.gitops_scenario import (
    ENVIRONMENTS,
    NAMESPACE_LABELS,
    TIMEOUT,
    GitOps,
    GitOpsScenario,
)
from fixtures.e2e.scenario import Scenario
from fixtures.gitops import applications, argocd, argocd_config
from fixtures.gitops.applications import AppState
from fixtures.gitops.manifests import IN_CLUSTER, LAB_APPLICATION, LabTarget, for_lab
from fixtures.gitops.manifests import load_manifests as load
from fixtures.gitops.repo import GitOpsRepo, git
from fixtures.traffic.stages import crashing_image_stage, delete_stage

pytestmark = pytest.mark.e2e

# Two analysed steps instead of four: the path is what these tests prove, not the steps
# (the canary scenarios of issue 6 walk all of them). Applied as each Application's
# valuesObject, on top of the lab values.
FAST_CANARY: dict[str, Any] = {
    # Ten seconds before the first measurement: on a loaded 2-core machine a new canary
    # pod's series can take more than the lab's 5 s to reach Prometheus twice (rate()).
    "analysis": {"initialDelay": "10s"},
    "rollouts": {
        "canary": {
            "steps": [
                {"setWeight": 20},
                {"analysis": {"count": 2}},
                {"setWeight": 60},
                {"analysis": {"count": 2}},
            ]
        }
    },
}


# ---- fixtures ---------------------------------------------------------------------------------


@pytest.fixture
def scenario(scenario: Scenario) -> GitOpsScenario:
    """The conftest's scenario, with the GitOps evidence added to its failure report."""
    return GitOpsScenario.of(scenario)


@pytest.fixture
def path(
    scenario: GitOpsScenario,
    cluster: Cluster,
    analysis: Any,
    argocd_lab: argocd.ArgoCD,
    tmp_path: Path,
) -> Iterator[GitOps]:
    """Given the test's GitOps repository and Applications, both Synced and Healthy."""
    gitops_path = GitOps(scenario, cluster, tmp_path, FAST_CANARY)
    scenario.gitops = gitops_path
    try:
        with scenario.given(
            "a GitOps repository seeded from this working tree, and this repository's "
            "staging (automated, selfHeal) and production (manual) Applications reading it"
        ):
            gitops_path.write_environment_files()
            gitops_path.create_namespaces()
            gitops_path.apply_applications()
            head = gitops_path.repo.head()
            for env in ENVIRONMENTS:
                if env == "production":
                    # Manual sync only: the first deploy of production is a sync by hand.
                    result = gitops_path.sync_by_hand(env, head)
                    assert result.returncode == 0, str(result)
                gitops_path.expect_app(env, sync="Synced", health="Healthy", revision=head)
                gitops_path.rollouts[env].expect_healthy(gitops_path.repo.image_tag(env))
    except BaseException:
        scenario.snapshot = scenario.gitops_evidence()
        if not cluster.keep:
            gitops_path.teardown()
        raise
    try:
        yield gitops_path
    finally:
        if not cluster.keep:
            gitops_path.teardown()


# ---- scenarios ------------------------------------------------------------------------------


def test_staging_commit_auto_syncs_and_production_waits_for_a_manual_sync(
    scenario: GitOpsScenario, path: GitOps
) -> None:
    new_tag = f"v2-{uuid.uuid4().hex[:8]}"
    old_production = path.repo.image_tag("production")

    with scenario.when(f"CI's GitOps update commits staging image.tag = {new_tag}"):
        commit = path.ci_deploy("staging", new_tag)
    with scenario.then("ArgoCD syncs the commit to staging by itself"):
        path.expect_app("staging", sync="Synced", revision=commit, timeout=60)
        history = path.state("staging").history
        assert commit in history, f"staging's sync history {history} lacks {commit[:12]}"
        scenario.record("commit_to_synced_seconds", path.seconds_since(commit))
    with scenario.and_("the canary walks its analysed steps and ends Healthy on the new tag"):
        path.rollouts["staging"].expect_step(1, timeout=60)
        path.rollouts["staging"].expect_healthy(new_tag, timeout=TIMEOUT)
        runs = path.rollouts["staging"].analysis_runs()
        phases = sorted({str(r.phase) for r in runs})
        assert runs and phases == ["Successful"], f"analysis runs: {phases}"
        path.expect_app("staging", sync="Synced", health="Healthy", revision=commit)
        scenario.record("commit_to_healthy_seconds", path.seconds_since(commit))

    with scenario.when(f"CI promotes {new_tag} to production (a commit to values-production)"):
        promoted = path.ci_deploy("production", new_tag)
    with scenario.then("production's Application is OutOfSync and stays so: nothing deploys"):
        path.expect_app("production", sync="OutOfSync", revision=promoted, timeout=60)

        def not_deployed(state: AppState) -> str | None:
            if state.sync != "OutOfSync":
                return f"sync is {state.sync}"
            tag = path.rollout("production").image_tag
            return None if tag == old_production else f"the Rollout runs {tag}"

        # Three polls of git and comparisons: automation would have acted by now.
        path.expect_app_stays("production", 3 * argocd.RESYNC_SECONDS, not_deployed)
    with scenario.when("the CD workflow syncs production by hand (argocd-sync.sh)"):
        result = path.sync_by_hand("production", promoted)
        assert result.returncode == 0, str(result)
    with scenario.then("production runs the canary and ends Healthy on the new tag"):
        path.rollouts["production"].expect_healthy(new_tag, timeout=TIMEOUT)
        path.expect_app("production", sync="Synced", health="Healthy", revision=promoted)
    with scenario.and_(
        "fixtures.gitops.applications.application_problems finds both at git's head, Synced "
        "and Healthy"
    ):
        for env in ENVIRONMENTS:
            app = path.application(env)
            head = applications.expected_revision(app)
            assert head == promoted, f"git ls-remote of {path.repo.url}: {head}"
            assert applications.application_problems(app, head) == []


# A simulated image that crashes (fixtures.traffic.stages): its version is bad through its
# image tag alone, so the commit that deploys it changes one line and scripts/rollback.sh
# can `git revert` it.


@pytest.fixture
def crashing_image(path: GitOps, cluster: Cluster) -> Iterator[str]:
    """A tag whose (simulated) image crashes in the staging namespace."""
    tag = f"bad-{uuid.uuid4().hex[:8]}"
    name = f"e2e-crashing-image-{path.prefix.rstrip('-')}"
    cluster.kube.apply([crashing_image_stage(name, path.namespaces["staging"], path.image(tag))])
    yield tag
    delete_stage(cluster.kube, name)


def test_bad_version_is_aborted_and_rolled_back_through_git(
    scenario: GitOpsScenario, path: GitOps, crashing_image: str
) -> None:
    good = path.repo.image_tag("staging")

    with scenario.when(f"CI's GitOps update deploys {crashing_image}, an image that crashes"):
        bad_commit = path.ci_deploy("staging", crashing_image)
    with scenario.then("ArgoCD syncs it and Argo Rollouts aborts the canary"):
        path.expect_app("staging", sync="Synced", revision=bad_commit, timeout=60)
        path.rollouts["staging"].expect_aborted(timeout=TIMEOUT)
        scenario.record("commit_to_abort_seconds", path.seconds_since(bad_commit))
        runs = path.rollouts["staging"].analysis_runs()
        failed = set().union(*(r.metrics_in("Failed") for r in runs))
        assert failed == {"restarts"}, f"the abort should come from the restarts metric: {failed}"
    with scenario.and_("the Application is Synced (git holds the bad version) but Degraded"):
        path.expect_app("staging", sync="Synced", health="Degraded", revision=bad_commit)

    with scenario.when('the operator runs scripts/rollback.sh staging "<reason>"'):
        started = time.time()
        result = path.rollback("staging", "e2e: canary aborted, crashing image")
        assert result.returncode == 0, str(result)
    with scenario.then("git has a revert of the bad commit, and ArgoCD syncs it"):
        subjects = path.subjects()
        reverts = [s for s in subjects if s.startswith("Revert ") and crashing_image in s]
        assert reverts, f"no revert of the {crashing_image} deploy in {subjects}"
        revert = path.reverts("staging")[0].sha
        assert path.repo.image_tag("staging") == good
        assert path.repo.image_tag("staging", f"{revert}~1") == crashing_image
        path.expect_app("staging", sync="Synced", health="Healthy", timeout=90)
        state = path.state("staging")
        assert revert in state.history, f"sync history {state.history} lacks the revert"
    with scenario.and_(f"the Rollout is Healthy on the previous version {good}"):
        path.rollouts["staging"].expect_healthy(good, timeout=90)
        scenario.record("rollback_seconds", round(time.time() - started, 1))
    with scenario.and_("the incident record is committed next to the revert"):
        assert any(s.startswith("incident(staging)") for s in path.subjects())


def test_drift_is_reverted_in_staging_and_reported_in_production(
    scenario: GitOpsScenario, path: GitOps, cluster: Cluster
) -> None:
    replicas = {env: path.rollout(env).replicas for env in ENVIRONMENTS}
    manual = 2

    with scenario.when(f"someone scales both Rollouts to {manual} replicas by hand"):
        changed = time.time()
        for env in ENVIRONMENTS:
            cluster.kube.patch(
                API_VERSION, "Rollout", path.rollouts[env].name, {"spec": {"replicas": manual}},
                path.namespaces[env],
            )  # fmt: skip

    with scenario.then(f"staging's selfHeal puts back the {replicas['staging']} replicas of git"):

        def healed() -> str | None:
            live = path.rollout("staging").replicas
            state = path.state("staging")
            if live == replicas["staging"] and state.sync == "Synced":
                return None
            return f"{live} replicas, {state}"

        wait_until(
            healed, f"staging's Rollout to be back at {replicas['staging']} replicas", 60,
            on_pending=scenario.steps.add,
        )  # fmt: skip
        scenario.record("self_heal_seconds", round(time.time() - changed, 1))
        path.rollouts["staging"].expect_healthy(timeout=90)

    with scenario.and_("production's Application reports the drift and leaves it"):
        path.expect_app("production", sync="OutOfSync", timeout=60)

        def reported(state: AppState) -> str | None:
            live = path.rollout("production").replicas
            if state.sync != "OutOfSync":
                return f"sync is {state.sync}"
            return None if live == manual else f"the Rollout was changed back to {live}"

        path.expect_app_stays("production", 3 * argocd.RESYNC_SECONDS, reported)
        app = path.application("production")
        drifted = [
            f"{r.get('kind')}/{r.get('name')}"
            for r in (app.get("status") or {}).get("resources") or []
            if r.get("status") == "OutOfSync"
        ]
        assert drifted == [f"Rollout/{path.rollouts['production'].name}"], drifted


def test_a_rollout_synced_by_argocd_stays_synced(
    scenario: GitOpsScenario, cluster: Cluster, argocd_lab: argocd.ArgoCD, tmp_path: Path
) -> None:
    """The chart's Rollout, as rendered, is what stays in the cluster after Argo Rollouts
    has processed it: otherwise every new Rollout shows OutOfSync in ArgoCD (production:
    until the next sync by hand; staging: a second, selfHeal sync)."""
    repo = GitOpsRepo.create(tmp_path / "gitops")
    prefix = f"s{uuid.uuid4().hex[:5]}-"
    target = LabTarget(
        repo_url=repo.url,
        namespaces={"production": scenario.namespace},
        prefix=prefix,
        environments=("production",),
        namespace_labels=NAMESPACE_LABELS,
    )
    docs = for_lab(load([REPO_ROOT / "argocd" / "application.yaml"]), target)
    app = f"{prefix}sre-platform-production"
    argocd_config.apply(docs)
    try:
        with scenario.when("production's Application is synced by hand for the first time"):
            applications.sync(app)
            applications.wait_app(app, 120, operation="Succeeded", on_pending=scenario.steps.add)
            scenario.expect_healthy(timeout=60)
        with scenario.then("it is Synced, and stays so once Argo Rollouts has seen the Rollout"):
            time.sleep(2 * argocd.RESYNC_SECONDS)  # two polls of git and comparisons
            state = applications.app_state(app)
            resources = (applications.application(app) or {}).get("status", {}).get("resources", [])
            drifted = [f"{r['kind']}/{r['name']}" for r in resources if r.get("status") != "Synced"]
            live = scenario.rollout().spec
            assert state.sync == "Synced", (
                f"{app} is {state} right after its sync; OutOfSync: {drifted}. The live Rollout "
                f"has minReadySeconds={live.get('minReadySeconds', '(absent)')}: Argo Rollouts "
                "rewrites a new Rollout without zero values, so a chart that renders "
                "`minReadySeconds: 0` never matches it (render it only when non-zero)"
            )
    finally:
        applications.delete_applications([app])
        applications.delete_project(f"{prefix}sre-platform")


# ---- the lab's own configuration -----------------------------------------------------------


def test_setup_argocd_lab_rewrites_only_what_the_lab_needs(argocd_lab: argocd.ArgoCD) -> None:
    """argocd/application.yaml for the lab: same policies, local repository, lab cluster."""
    original = load([REPO_ROOT / "argocd" / "application.yaml"])
    target = LabTarget(repo_url=argocd_lab.repo_url, lab_application=True)
    rewritten = {d["metadata"]["name"]: d for d in for_lab(original, target)}
    for doc in original:
        if doc["kind"] != "Application":
            continue
        lab_doc = rewritten[doc["metadata"]["name"]]
        assert lab_doc["spec"]["syncPolicy"] == doc["spec"]["syncPolicy"]
        assert lab_doc["spec"]["ignoreDifferences"] == doc["spec"]["ignoreDifferences"]
        assert lab_doc["metadata"].get("finalizers") == doc["metadata"].get("finalizers")
        source = lab_doc["spec"]["source"]
        assert source["repoURL"] == argocd_lab.repo_url
        assert source["targetRevision"] == doc["spec"]["source"]["targetRevision"]
        assert source["helm"]["valueFiles"] == doc["spec"]["source"]["helm"]["valueFiles"]
        assert "tag" not in source["helm"]["valuesObject"].get("image", {}), (
            "the lab values must not pin the image tag: git's values file holds it"
        )
        assert lab_doc["spec"]["destination"] == {
            "server": IN_CLUSTER,
            "namespace": doc["spec"]["destination"]["namespace"],
        }
    assert LAB_APPLICATION in rewritten
    assert not any(re.search(r"github\.com", json.dumps(d)) for d in rewritten.values())


def test_lab_argocd_runs_the_pinned_version(argocd_lab: argocd.ArgoCD) -> None:
    binary = tool_dir("argo-cd") / "argocd"
    version = subprocess.run(
        [str(binary), "version", "--client", "--short"],
        capture_output=True, text=True, check=True,
        env={**os.environ, "HOME": str(argocd.state_dir() / "home")},
    ).stdout  # fmt: skip
    pinned = tool_version("argo-cd")
    assert version.startswith(f"argocd: {pinned}"), f"{version!r} (built in {binary})"
    assert all(s.ready for s in argocd.status()), argocd.status()


def test_publish_pushes_a_changed_working_tree_once_and_keeps_history(tmp_path: Path) -> None:
    """What `make lab-deploy` does to the lab's repository before ArgoCD syncs it."""
    source = tmp_path / "source"
    source.mkdir()
    git(source, "init", "--quiet")
    (source / "kept.txt").write_text("one\n")
    (source / "removed.txt").write_text("gone soon\n")
    repo = GitOpsRepo.create(tmp_path / "gitops", source=source, webhook=False)
    seed = repo.head()
    assert repo.publish(source) is None, "an unchanged tree must not add a commit"
    (source / "kept.txt").write_text("two\n")
    (source / "removed.txt").unlink()
    commit = repo.publish(source, message="lab deploy")
    assert commit is not None and repo.head() == commit.sha
    assert [c.sha for c in repo.log()] == [commit.sha, seed]
    assert repo.show("kept.txt") == "two\n"
    listed = git(repo.bare, "ls-tree", "--name-only", "main").stdout.split()
    assert listed == ["kept.txt"]
