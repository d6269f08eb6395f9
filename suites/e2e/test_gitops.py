"""GitOps scenarios (issue 9): git -> ArgoCD -> Argo Rollouts, replayed in the lab.

The whole delivery path runs with the real pieces: a local GitOps repository (a copy of this
working tree, fixtures/gitops.py) that ArgoCD's real repo-server clones and renders with the
pinned helm; the real application controller (fixtures/argocd.py) syncing this repository's
own Applications (argocd/application.yaml, rewritten for the lab: repository, destination,
lab values); Argo Rollouts running the canary with the chart's analysis against the lab's
Prometheus, fed by the SIMULATED traffic (fixtures/traffic.py). The steps a person or the
pipeline takes are the repository's own scripts, run as the workflows run them:

    CI's GitOps update     .github/scripts/gitops-update.sh <env> <tag>   (in a CI checkout)
    CD's sync by hand      .github/scripts/argocd-sync.sh <env> <commit>
    rollback               scripts/rollback.sh <env> "<reason>" --repo <operator checkout>

They read environment files written for the test (staging/production pointed at the lab,
at the test's namespaces and Applications), through SRE_PLATFORM_ENVIRONMENTS_DIR.

Each test has its own repository, AppProject, Applications (prefixed names) and namespaces,
so the lab's standing Applications (scripts/setup-argocd.sh --lab) are never touched.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from fixtures import argocd, gitops, lab
from fixtures.cluster import Cluster
from fixtures.kube import wait_until
from fixtures.rollouts import Scenario, ScriptResult, image_tag, run_summary
from fixtures.tools import REPO_ROOT, tool_dir, tool_version

pytestmark = pytest.mark.e2e

ENVIRONMENTS = ("staging", "production")
# The e2e conftest's namespace labels: the simulated traffic serves labelled namespaces.
NAMESPACE_LABELS = {"sre-platform.io/e2e": "true", "sre-platform.io/simulated-traffic": "true"}
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
TIMEOUT = 240


# ---- the GitOps path of one test ------------------------------------------------------------


class GitOps:
    """A test's GitOps repository, its staging/production Applications and the scripts.

    Rollout expectations per environment come from fixtures.rollouts.Scenario (one per
    namespace, sharing the test's Given/When/Then log); Application expectations from
    fixtures.argocd.
    """

    def __init__(self, scenario: Scenario, cluster: Cluster, tmp: Path) -> None:
        self.cluster = cluster
        self.scenario = scenario
        self.steps = scenario.steps
        self.tmp = tmp
        self.prefix = f"g{uuid.uuid4().hex[:5]}-"
        self.namespaces = {"staging": scenario.namespace, "production": f"{scenario.namespace}-p"}
        self.rollouts = {"staging": scenario}
        production = Scenario(cluster, self.namespaces["production"])
        production.steps = scenario.steps
        self.rollouts["production"] = production
        self.repo = gitops.GitOpsRepo.create(tmp / "gitops")
        # CI's workspace (gitops-update.sh commits on a detached HEAD there) and an
        # operator's checkout on main (scripts/rollback.sh needs the branch).
        self.ci = self.repo.clone(tmp / "ci")
        self.operator = self.repo.clone(tmp / "operator")
        self.environments = tmp / "environments"
        self.manifests: list[dict[str, Any]] = []

    # -- names
    def app(self, env: str) -> str:
        return f"{self.prefix}sre-platform-{env}"

    def image(self, tag: str) -> str:
        return f"{gitops.lab_values('staging')['image']['repository']}:{tag}"

    # -- set up and tear down
    def write_environment_files(self) -> None:
        """environments/<env>.yaml as the scripts read them, pointed at the lab and this
        test's namespace and Application; everything else as in the repository."""
        self.environments.mkdir()
        (self.environments / "schema.json").write_text(
            (REPO_ROOT / "environments" / "schema.json").read_text()
        )
        for env in ENVIRONMENTS:
            data = yaml.safe_load((REPO_ROOT / "environments" / f"{env}.yaml").read_text())
            data["cluster"] = {
                "kubeconfig": str(self.cluster.kubeconfig),
                "context": self.cluster.context or lab.CONTEXT,
            }
            data["namespace"] = self.namespaces[env]
            data["argocd"] = {
                "enabled": True,
                "application": self.app(env),
                "namespace": argocd.NAMESPACE,
            }
            data["prometheus"] = {"url": lab.prometheus_url()}
            data.setdefault("timeouts", {})["rollout"] = "4m"
            (self.environments / f"{env}.yaml").write_text(yaml.safe_dump(data, sort_keys=False))

    def create_namespaces(self) -> None:
        for namespace in self.namespaces.values():
            manifest = {
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": {"name": namespace, "labels": NAMESPACE_LABELS},
            }
            self.cluster.kubectl("apply", "-f", "-", input=json.dumps(manifest))

    def apply_applications(self) -> None:
        """The repository's AppProject and staging/production Applications, for this test."""
        target = gitops.LabTarget(
            repo_url=self.repo.url,
            namespaces=self.namespaces,
            prefix=self.prefix,
            values={env: FAST_CANARY for env in ENVIRONMENTS},
            environments=ENVIRONMENTS,
            # ArgoCD owns the namespaces' labels (managedNamespaceMetadata): without these the
            # simulated traffic would stop serving them at the first sync.
            namespace_labels=NAMESPACE_LABELS,
        )
        docs = gitops.load_manifests([REPO_ROOT / "argocd" / "application.yaml"])
        self.manifests = gitops.for_lab(docs, target)
        argocd.apply(self.manifests)

    def teardown(self) -> None:
        apps = [d["metadata"]["name"] for d in self.manifests if d["kind"] == "Application"]
        argocd.delete_applications(apps)
        for doc in self.manifests:
            if doc["kind"] == "AppProject":
                argocd.kubectl(
                    "-n", argocd.NAMESPACE, "delete", "appprojects.argoproj.io",
                    doc["metadata"]["name"], "--ignore-not-found", "--wait=false", check=False,
                )  # fmt: skip
        for namespace in self.namespaces.values():
            self.cluster.kubectl("delete", "namespace", namespace, "--wait=false", check=False)

    # -- the scripts
    def _run(self, argv: list[str], cwd: Path, timeout: float = 300) -> ScriptResult:
        outputs = self.tmp / "github-output"
        outputs.write_text("")
        env = self.cluster.env()
        env.update(
            SRE_PLATFORM_ENVIRONMENTS_DIR=str(self.environments),
            SP_PYTHON=str(REPO_ROOT / ".venv" / "bin" / "python"),
            GITHUB_OUTPUT=str(outputs),
            SP_POLL_SECONDS="1",
            GIT_AUTHOR_NAME="sre-platform e2e",
            GIT_AUTHOR_EMAIL="e2e@sre-platform.invalid",
            GIT_COMMITTER_NAME="sre-platform e2e",
            GIT_COMMITTER_EMAIL="e2e@sre-platform.invalid",
        )
        env.pop("ARGOCD", None)
        result = subprocess.run(
            argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
        )
        shown = " ".join(a if len(a) < 60 else a[:57] + "..." for a in argv)
        self.steps.add(f"  $ {shown} -> exit {result.returncode}")
        return ScriptResult(argv, result.returncode, result.stdout, result.stderr)

    def outputs(self) -> dict[str, str]:
        lines = (self.tmp / "github-output").read_text().splitlines()
        return dict(line.split("=", 1) for line in lines if "=" in line)

    def ci_deploy(self, env: str, tag: str) -> str:
        """CI's GitOps update: image.tag of helm/values-<env>.yaml = tag, committed, pushed."""
        __tracebackhide__ = True
        script = self.ci / ".github" / "scripts" / "gitops-update.sh"
        result = self._run([str(script), env, tag], cwd=self.ci)
        assert result.returncode == 0, str(result)
        commit = self.outputs().get("commit", "")
        assert commit == self.repo.head(), f"gitops-update.sh reported {commit!r}\n{result}"
        return commit

    def sync_by_hand(self, env: str, commit: str) -> ScriptResult:
        """What the CD workflow does behind the protected environment: refresh, sync, wait."""
        script = REPO_ROOT / ".github" / "scripts" / "argocd-sync.sh"
        return self._run([str(script), env, commit, "--timeout", "2m"], cwd=REPO_ROOT)

    def rollback(self, env: str, reason: str) -> ScriptResult:
        script = REPO_ROOT / "scripts" / "rollback.sh"
        argv = [str(script), env, reason, "--repo", str(self.operator), "--timeout", "3m"]
        return self._run(argv, cwd=REPO_ROOT)

    # -- expectations
    def expect_app(
        self,
        env: str,
        *,
        sync: str | None = None,
        health: str | None = None,
        revision: str | None = None,
        timeout: float = TIMEOUT,
    ) -> float:
        __tracebackhide__ = True
        return argocd.wait_app(
            self.app(env), timeout, sync=sync, health=health, revision=revision,
            on_pending=self.steps.add,
        )  # fmt: skip

    def expect_app_stays(
        self, env: str, seconds: float, check: Callable[[argocd.AppState], str | None]
    ) -> None:
        """The Application keeps satisfying `check` for `seconds` (several polls of git)."""
        __tracebackhide__ = True
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            state = argocd.app_state(self.app(env))
            problem = check(state)
            assert problem is None, f"Application {self.app(env)}: {problem} ({state})"
            time.sleep(1)

    def rollout(self, env: str) -> dict[str, Any]:
        return self.rollouts[env].rollout()

    def evidence(self) -> dict[str, str]:
        evidence: dict[str, str] = {}
        for env in ENVIRONMENTS:
            app = argocd.application(self.app(env))
            evidence[f"application-{env}.yaml"] = yaml.safe_dump(app) if app else "(missing)\n"
        runs = self.rollouts["production"].analysis_runs()
        evidence["analysisruns-production.txt"] = "\n".join(run_summary(r) for r in runs) + "\n"
        history = "\n".join(f"{c.short} {c.subject}" for c in self.repo.log(30))
        evidence["git-log.txt"] = history + "\n"
        hook_log = self.repo.root / "webhook.log"
        if hook_log.is_file():
            evidence["webhook.log"] = hook_log.read_text()
        # This test's lines only: the controller serves every Application of the lab.
        for name in ("argocd-application-controller", "argocd-repo-server"):
            log = lab.log_path(name)
            lines = log.read_text(errors="replace").splitlines() if log.is_file() else []
            mine = [line for line in lines if self.prefix in line or self.repo.url in line]
            evidence[f"{name}.log"] = "\n".join(mine[-300:]) + "\n"
        return evidence


class GitOpsScenario(Scenario):
    """The conftest's Scenario (namespace, rollout evidence) plus the GitOps evidence."""

    gitops: GitOps | None = None
    # Taken when the set-up fails: its teardown runs before the report is written.
    snapshot: dict[str, str] | None = None

    def gitops_evidence(self) -> dict[str, str]:
        if self.gitops is None:
            return {}
        try:
            return self.gitops.evidence()
        except Exception as error:  # never hide the failure being explained
            return {"gitops-evidence-error.txt": repr(error)}

    def evidence(self) -> dict[str, str]:
        evidence = super().evidence()
        evidence.update(self.snapshot or self.gitops_evidence())
        return evidence


# ---- fixtures ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def argocd_lab(cluster: Cluster) -> Iterator[argocd.ArgoCD]:
    """ArgoCD's controller and repo-server in the lab; stopped afterwards if started here."""
    if cluster.provider != "lab":
        pytest.skip(
            "the GitOps scenarios run ArgoCD as lab processes (docs/argocd-lab.md); on "
            f"{cluster.provider} ArgoCD runs as pods that cannot read a file:// repository"
        )
    state = argocd.up(say=lambda line: None)
    yield state
    if state.started and not cluster.keep:
        argocd.down(say=lambda line: None)


@pytest.fixture
def scenario(scenario: Scenario) -> GitOpsScenario:
    """The conftest's scenario, with the GitOps evidence added to its failure report."""
    extended = GitOpsScenario(scenario.cluster, scenario.namespace)
    extended.steps = scenario.steps
    return extended


@pytest.fixture
def path(
    scenario: GitOpsScenario,
    cluster: Cluster,
    analysis: Any,
    argocd_lab: argocd.ArgoCD,
    tmp_path: Path,
) -> Iterator[GitOps]:
    """Given the test's GitOps repository and Applications, both Synced and Healthy."""
    gitops_path = GitOps(scenario, cluster, tmp_path)
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


def _commit_subjects(repo: gitops.GitOpsRepo) -> list[str]:
    return [c.subject for c in repo.log(10)]


# ---- scenarios ------------------------------------------------------------------------------


def test_staging_commit_auto_syncs_and_production_waits_for_a_manual_sync(
    scenario: GitOpsScenario, path: GitOps
) -> None:
    new_tag = f"v2-{uuid.uuid4().hex[:8]}"
    old_production = path.repo.image_tag("production")

    with scenario.when(f"CI's GitOps update commits staging image.tag = {new_tag}"):
        pushed = time.time()
        commit = path.ci_deploy("staging", new_tag)
    with scenario.then("ArgoCD syncs the commit to staging by itself"):
        path.expect_app("staging", sync="Synced", revision=commit, timeout=60)
        history = argocd.app_state(path.app("staging")).history
        assert commit in history, f"staging's sync history {history} lacks {commit[:12]}"
        scenario.record("commit_to_synced_seconds", round(time.time() - pushed, 1))
    with scenario.and_("the canary walks its analysed steps and ends Healthy on the new tag"):
        path.rollouts["staging"].expect_step(1, timeout=60)
        path.rollouts["staging"].expect_healthy(new_tag, timeout=TIMEOUT)
        runs = path.rollouts["staging"].analysis_runs()
        phases = sorted({r.get("status", {}).get("phase") for r in runs})
        assert runs and phases == ["Successful"], f"analysis runs: {phases}"
        path.expect_app("staging", sync="Synced", health="Healthy", revision=commit)
        scenario.record("commit_to_healthy_seconds", round(time.time() - pushed, 1))

    with scenario.when(f"CI promotes {new_tag} to production (a commit to values-production)"):
        promoted = path.ci_deploy("production", new_tag)
    with scenario.then("production's Application is OutOfSync and stays so: nothing deploys"):
        path.expect_app("production", sync="OutOfSync", revision=promoted, timeout=60)

        def not_deployed(state: argocd.AppState) -> str | None:
            if state.sync != "OutOfSync":
                return f"sync is {state.sync}"
            tag = image_tag(path.rollout("production"))
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
        "fixtures.argocd.application_problems finds both at git's head, Synced and Healthy"
    ):
        for env in ENVIRONMENTS:
            app = argocd.application(path.app(env)) or {}
            head = argocd.expected_revision(app)
            assert head == promoted, f"git ls-remote of {path.repo.url}: {head}"
            assert argocd.application_problems(app, head) == []


# A simulated image that crashes: kwok runs no container, so this Stage plays the kubelet for
# pods running IMAGE in NAMESPACE, raising the app container's restartCount every 2 s (what
# kube-state-metrics reports). The version is bad through its image tag alone, so the commit
# that deploys it changes one line and scripts/rollback.sh can `git revert` it.
CRASHING_IMAGE_STAGE = """\
apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: @NAME@
spec:
  resourceRef:
    apiGroup: v1
    kind: Pod
  selector:
    matchExpressions:
      - key: '.metadata.namespace'
        operator: 'In'
        values: ['@NAMESPACE@']
      - key: '.metadata.deletionTimestamp'
        operator: 'DoesNotExist'
      - key: '.status.phase'
        operator: 'In'
        values: ['Running']
      - key: '[.spec.containers[] | select(.image == "@IMAGE@")] | length > 0'
        operator: 'In'
        values: ['true']
  delay:
    durationMilliseconds: 2000
  next:
    statusTemplate: |
      {{ $now := Now }}
      containerStatuses:
      {{ range .status.containerStatuses }}
      {{ if eq .name "app" }}
      - name: {{ .name | Quote }}
        image: {{ .image | Quote }}
        imageID: {{ .imageID | default "" | Quote }}
        ready: true
        started: true
        restartCount: {{ add .restartCount 1 }}
        lastState:
          terminated:
            exitCode: 1
            reason: Error
            message: the simulated image @IMAGE@ crashes
            finishedAt: {{ $now | Quote }}
        state:
          running:
            startedAt: {{ $now | Quote }}
      {{ else }}
      - {{ YAML . 8 }}
      {{ end }}
      {{ end }}
"""


@pytest.fixture
def crashing_image(path: GitOps, cluster: Cluster) -> Iterator[str]:
    """A tag whose (simulated) image crashes in the staging namespace."""
    tag = f"bad-{uuid.uuid4().hex[:8]}"
    name = f"e2e-crashing-image-{path.prefix.rstrip('-')}"
    manifest = (
        CRASHING_IMAGE_STAGE.replace("@NAME@", name)
        .replace("@NAMESPACE@", path.namespaces["staging"])
        .replace("@IMAGE@", path.image(tag))
    )
    cluster.kubectl("apply", "-f", "-", input=manifest)
    yield tag
    cluster.kubectl("delete", "stages.kwok.x-k8s.io", name, "--ignore-not-found", check=False)


def test_bad_version_is_aborted_and_rolled_back_through_git(
    scenario: GitOpsScenario, path: GitOps, crashing_image: str
) -> None:
    good = path.repo.image_tag("staging")

    with scenario.when(f"CI's GitOps update deploys {crashing_image}, an image that crashes"):
        pushed = time.time()
        bad_commit = path.ci_deploy("staging", crashing_image)
    with scenario.then("ArgoCD syncs it and Argo Rollouts aborts the canary"):
        path.expect_app("staging", sync="Synced", revision=bad_commit, timeout=60)
        path.rollouts["staging"].expect_aborted(timeout=TIMEOUT)
        scenario.record("commit_to_abort_seconds", round(time.time() - pushed, 1))
        failed = {
            m["name"]
            for run in path.rollouts["staging"].analysis_runs()
            for m in (run.get("status") or {}).get("metricResults") or []
            if m.get("phase") == "Failed"
        }
        assert failed == {"restarts"}, f"the abort should come from the restarts metric: {failed}"
    with scenario.and_("the Application is Synced (git holds the bad version) but Degraded"):
        path.expect_app("staging", sync="Synced", health="Degraded", revision=bad_commit)

    with scenario.when('the operator runs scripts/rollback.sh staging "<reason>"'):
        started = time.time()
        result = path.rollback("staging", "e2e: canary aborted, crashing image")
        assert result.returncode == 0, str(result)
    with scenario.then("git has a revert of the bad commit, and ArgoCD syncs it"):
        subjects = _commit_subjects(path.repo)
        reverts = [s for s in subjects if s.startswith("Revert ") and crashing_image in s]
        assert reverts, f"no revert of the {crashing_image} deploy in {subjects}"
        revert = next(
            c.sha for c in path.repo.log(10, gitops.values_file("staging"))
            if c.subject.startswith("Revert ")
        )  # fmt: skip
        assert path.repo.image_tag("staging") == good
        assert path.repo.image_tag("staging", f"{revert}~1") == crashing_image
        path.expect_app("staging", sync="Synced", health="Healthy", timeout=90)
        state = argocd.app_state(path.app("staging"))
        assert revert in state.history, f"sync history {state.history} lacks the revert"
    with scenario.and_(f"the Rollout is Healthy on the previous version {good}"):
        path.rollouts["staging"].expect_healthy(good, timeout=90)
        scenario.record("rollback_seconds", round(time.time() - started, 1))
    with scenario.and_("the incident record is committed next to the revert"):
        assert any(s.startswith("incident(staging)") for s in _commit_subjects(path.repo))


def test_drift_is_reverted_in_staging_and_reported_in_production(
    scenario: GitOpsScenario, path: GitOps, cluster: Cluster
) -> None:
    replicas = {env: int(path.rollout(env)["spec"]["replicas"]) for env in ENVIRONMENTS}
    manual = 2

    with scenario.when(f"someone scales both Rollouts to {manual} replicas by hand"):
        changed = time.time()
        for env in ENVIRONMENTS:
            name = path.rollouts[env].name
            cluster.kubectl(
                "-n", path.namespaces[env], "patch", f"rollouts.argoproj.io/{name}",
                "--type=merge", "-p", json.dumps({"spec": {"replicas": manual}}),
            )  # fmt: skip

    with scenario.then(f"staging's selfHeal puts back the {replicas['staging']} replicas of git"):

        def healed() -> str | None:
            live = int(path.rollout("staging")["spec"]["replicas"])
            state = argocd.app_state(path.app("staging"))
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

        def reported(state: argocd.AppState) -> str | None:
            live = int(path.rollout("production")["spec"]["replicas"])
            if state.sync != "OutOfSync":
                return f"sync is {state.sync}"
            return None if live == manual else f"the Rollout was changed back to {live}"

        path.expect_app_stays("production", 3 * argocd.RESYNC_SECONDS, reported)
        app = argocd.application(path.app("production")) or {}
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
    repo = gitops.GitOpsRepo.create(tmp_path / "gitops")
    prefix = f"s{uuid.uuid4().hex[:5]}-"
    target = gitops.LabTarget(
        repo_url=repo.url,
        namespaces={"production": scenario.namespace},
        prefix=prefix,
        environments=("production",),
        namespace_labels=NAMESPACE_LABELS,
    )
    docs = gitops.for_lab(
        gitops.load_manifests([REPO_ROOT / "argocd" / "application.yaml"]), target
    )
    app = f"{prefix}sre-platform-production"
    argocd.apply(docs)
    try:
        with scenario.when("production's Application is synced by hand for the first time"):
            argocd.sync(app)
            argocd.wait_app(app, 120, operation="Succeeded", on_pending=scenario.steps.add)
            scenario.expect_healthy(timeout=60)
        with scenario.then("it is Synced, and stays so once Argo Rollouts has seen the Rollout"):
            time.sleep(2 * argocd.RESYNC_SECONDS)
            state = argocd.app_state(app)
            resources = (argocd.application(app) or {}).get("status", {}).get("resources", [])
            drifted = [f"{r['kind']}/{r['name']}" for r in resources if r.get("status") != "Synced"]
            live = scenario.rollout()["spec"]
            assert state.sync == "Synced", (
                f"{app} is {state} right after its sync; OutOfSync: {drifted}. The live Rollout "
                f"has minReadySeconds={live.get('minReadySeconds', '(absent)')}: Argo Rollouts "
                "rewrites a new Rollout without zero values, so a chart that renders "
                "`minReadySeconds: 0` never matches it (render it only when non-zero)"
            )
    finally:
        argocd.delete_applications([app])
        argocd.kubectl("-n", argocd.NAMESPACE, "delete", "appprojects.argoproj.io",
                       f"{prefix}sre-platform", "--wait=false", check=False)  # fmt: skip


# ---- the lab's own configuration -----------------------------------------------------------


def test_setup_argocd_lab_rewrites_only_what_the_lab_needs(argocd_lab: argocd.ArgoCD) -> None:
    """argocd/application.yaml for the lab: same policies, local repository, lab cluster."""
    original = gitops.load_manifests([REPO_ROOT / "argocd" / "application.yaml"])
    target = gitops.LabTarget(repo_url=argocd_lab.repo_url, lab_application=True)
    rewritten = {d["metadata"]["name"]: d for d in gitops.for_lab(original, target)}
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
            "server": gitops.IN_CLUSTER,
            "namespace": doc["spec"]["destination"]["namespace"],
        }
    assert gitops.LAB_APPLICATION in rewritten
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
    gitops.git(source, "init", "--quiet")
    (source / "kept.txt").write_text("one\n")
    (source / "removed.txt").write_text("gone soon\n")
    repo = gitops.GitOpsRepo.create(tmp_path / "gitops", source=source, webhook=False)
    seed = repo.head()
    assert repo.publish(source) is None, "an unchanged tree must not add a commit"
    (source / "kept.txt").write_text("two\n")
    (source / "removed.txt").unlink()
    commit = repo.publish(source, message="lab deploy")
    assert commit is not None and repo.head() == commit.sha
    assert [c.sha for c in repo.log()] == [commit.sha, seed]
    assert repo.show("kept.txt") == "two\n"
    listed = gitops.git(repo.bare, "ls-tree", "--name-only", "main").stdout.split()
    assert listed == ["kept.txt"]
