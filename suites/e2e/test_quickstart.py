"""The Quick Start of README.md, run as written (issue 14).

The commands are read from README.md's Quick Start block, so the document and this test
cannot drift apart: each `# N. title` comment starts a step, each other line is a command
a user types, run here as a subprocess with `bash -c`, in order, in a checkout of the lab's
GitOps repository, with the environment `scripts/lab/argocd.sh env --environments` exports
(the lab as every environment's cluster). After each step the test checks the outcome that
step names, on the lab's real ArgoCD and Argo Rollouts.

It uses the lab's standing pieces (the GitOps repository, the dev/staging/production
namespaces and Applications), which no other test of the tier touches: the GitOps scenarios
have their own repositories, AppProjects, Applications and namespaces. So it runs beside
them under pytest-xdist, on the one ArgoCD they share (`argocd_lab`: started by whichever
test comes first, stopped by the last; step 1 finds it up, as a user running the Quick
Start again would), and, like them, never beside a `serial` test (those stop Prometheus or
the Rollouts controller).
"""

from __future__ import annotations

import re
import shlex
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from fixtures.cluster import Cluster
from fixtures.core.supervisor import http_probe
from fixtures.core.tools import REPO_ROOT
from fixtures.e2e.scenario import Scenario
from fixtures.gitops import applications, argocd, dashboard
from fixtures.gitops.repo import GitOpsRepo, git, lab_repo
from fixtures.lab import control_plane
from fixtures.lab.layout import CONTEXT, kubeconfig_path
from fixtures.traffic import simulated

pytestmark = pytest.mark.e2e

README = REPO_ROOT / "README.md"
ENVIRONMENTS = ("dev", "staging", "production")
APP = "sre-platform"
NEW_TAG = "quickstart-2"  # the tag step 3 deploys (asserted to be in the README's command)
TIMEOUT = 240


# ---- the README's block -------------------------------------------------------------------


@dataclass
class Step:
    number: int
    title: str
    commands: list[str] = field(default_factory=list)


def quick_start_steps(text: str) -> list[Step]:
    """The numbered steps of the second bash block of README.md's "## Quick Start" (the
    first sets up the lab and the checkout)."""
    section = text.split("\n## Quick Start\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```bash\n(.*?)```", section, re.DOTALL)
    assert len(blocks) == 2, f"README's Quick Start: 2 bash blocks expected, {len(blocks)} found"
    steps: list[Step] = []
    for line in blocks[1].splitlines():
        numbered = re.match(r"#\s*(\d+)\.\s*(.+)", line)
        if numbered:
            steps.append(Step(int(numbered[1]), numbered[2].strip()))
        elif line.strip() and not line.lstrip().startswith("#"):
            assert steps, f"README's Quick Start: a command before the first step: {line}"
            steps[-1].commands.append(line.strip())
    return steps


# ---- fixtures -------------------------------------------------------------------------------


@dataclass
class QuickStart:
    """Where and how the README's commands run, and what they left."""

    cluster: Cluster
    scenario: Scenario  # the Given/When/Then log, and the production Rollout's reader
    checkout: Path
    repo: GitOpsRepo
    env: dict[str, str]
    steps: dict[int, Step]
    outputs: list[str] = field(default_factory=list)

    def run(self, number: int) -> list[subprocess.CompletedProcess[str]]:
        """Every command of step `number`, as written, in order; each must exit 0."""
        results = []
        for command in self.steps[number].commands:
            started = time.monotonic()
            result = subprocess.run(
                ["bash", "-c", command], cwd=self.checkout, env=self.env,
                capture_output=True, text=True, timeout=TIMEOUT + 60, check=False,
            )  # fmt: skip
            took = time.monotonic() - started
            self.outputs.append(
                f"$ {command}   # exit {result.returncode}, {took:.1f}s\n"
                f"{result.stdout}{result.stderr}"
            )
            self.scenario.steps.add(f"  $ {command} -> exit {result.returncode} ({took:.1f}s)")
            assert result.returncode == 0, (
                f"step {number} ({self.steps[number].title}): `{command}` exited "
                f"{result.returncode}:\n{result.stdout[-2000:]}{result.stderr[-3000:]}"
            )
            results.append(result)
        return results

    def app(self, env: str) -> str:
        return f"sre-platform-{env}"

    def expect_app(self, env: str, timeout: float = TIMEOUT, **expected: str | None) -> None:
        __tracebackhide__ = True
        applications.wait_app(self.app(env), timeout, on_pending=self.scenario.steps.add,
                              **expected)  # fmt: skip


def lab_environment() -> dict[str, str]:
    """The environment after `eval "$(scripts/lab/argocd.sh env --environments)"`."""
    exported = subprocess.run(
        ["bash", "-c", 'eval "$(scripts/lab/argocd.sh env --environments)" && env -0'],
        cwd=REPO_ROOT, capture_output=True, text=True, check=True, timeout=60,
    ).stdout  # fmt: skip
    env = dict(item.split("=", 1) for item in exported.split("\0") if "=" in item)
    env.pop("GIT_DIR", None)
    return env


def _delete_everything(cluster: Cluster, wait: float = 0) -> None:
    """The Applications (their finalizers delete what dev and staging deployed) and the
    environments' namespaces, so the next run starts as a fresh cluster would."""
    names = [f"sre-platform-{env}" for env in ENVIRONMENTS]
    present = [n for n in names if applications.application(n) is not None]
    if present:
        applications.delete_applications(present)
    for env in ENVIRONMENTS:
        cluster.kube.delete_namespace(env, wait=wait)


@pytest.fixture
def quick_start(
    cluster: Cluster, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[QuickStart]:
    if cluster.provider != "lab":
        pytest.skip(
            "the Quick Start runs ArgoCD as lab processes (docs/argocd-lab.md), which "
            f"{cluster.provider} does not have"
        )
    request.getfixturevalue("argocd_lab")  # shared with the GitOps scenarios beside it
    steps = {s.number: s for s in quick_start_steps(README.read_text())}
    assert sorted(steps) == [1, 2, 3, 4, 5, 6], f"README's Quick Start steps: {sorted(steps)}"
    dashboard_was_up = all(s.ready for s in dashboard.status())
    scenario = Scenario(cluster, "production", release=APP)
    with scenario.given(
        "the lab, its GitOps repository seeded from this working tree, a checkout of it, "
        "no Application and no environment namespace yet, and users' traffic (simulated) "
        "for production"
    ):
        _delete_everything(cluster, wait=120)
        repo = lab_repo(reseed=True)
        checkout = repo.clone(tmp_path / "sre-platform")
        # The operator's commits (rollback.sh's revert and incident record) need a name.
        for key, value in (("user.name", "Quick Start"), ("user.email", "qs@sre-platform.invalid")):
            git(checkout, "config", key, value)
        traffic = simulated.start_detached("production", kubeconfig_path(), CONTEXT)
    qs = QuickStart(cluster, scenario, checkout, repo, lab_environment(), steps)
    try:
        yield qs
    finally:
        (REPO_ROOT / "reports").mkdir(exist_ok=True)
        (REPO_ROOT / "reports" / "e2e-quickstart.log").write_text(
            "\n".join([*scenario.steps.lines, "", *qs.outputs]) + "\n"
        )
        simulated.stop_detached("production")
        del traffic
        if not cluster.keep:
            _delete_everything(cluster)
            if not dashboard_was_up:
                dashboard.down(say=lambda line: None)


# ---- the test -------------------------------------------------------------------------------


def test_the_quick_start_works_as_written(quick_start: QuickStart) -> None:
    """Given the lab, a checkout of its GitOps repository and the README's Quick Start;
    When each step's commands run as written;
    Then ArgoCD and the dashboard answer, ArgoCD syncs dev and staging alone and waits for
    production's sync by hand, the new tag's canary runs and `status` shows it, `promote`
    takes it to 100% Healthy, and the rollback reverts the tag in git, records the
    incident and leaves production Healthy on the previous tag."""
    qs, scenario = quick_start, quick_start.scenario
    seed_tag = qs.repo.image_tag("production")

    with scenario.when(f"step 1: {qs.steps[1].title}"):
        qs.run(1)
    with scenario.then("ArgoCD's processes and Argo Rollouts' controller are up, and the "
                       "Rollouts dashboard answers"):  # fmt: skip
        assert argocd.is_up(), f"ArgoCD: {[(s.name, s.problem) for s in argocd.status()]}"
        rollouts = [s for s in control_plane.status() if s.name == "rollouts-controller"]
        assert rollouts and rollouts[0].ready, f"the Rollouts controller: {rollouts}"
        problem = http_probe(f"{dashboard.API}/namespace")
        assert problem is None, f"the dashboard at {dashboard.URL}: {problem}"

    with scenario.when(f"step 2: {qs.steps[2].title}"):
        qs.run(2)
    head = qs.repo.head()
    with scenario.then("dev and staging are synced by ArgoCD alone and Healthy"):
        for env in ("dev", "staging"):
            qs.expect_app(env, sync="Synced", health="Healthy", revision=head)
    with scenario.and_("production waits for a sync by hand: OutOfSync, nothing deployed"):
        qs.expect_app("production", sync="OutOfSync", revision=head)
        rollout = qs.cluster.kube.get(
            f"/apis/argoproj.io/v1alpha1/namespaces/production/rollouts/{APP}"
        )
        assert rollout is None, "production has a Rollout before anyone synced it"

    deploy = qs.steps[3].commands
    assert any(NEW_TAG in shlex.split(c) for c in deploy), f"step 3 deploys {NEW_TAG}: {deploy}"
    with scenario.when(f"step 3: {qs.steps[3].title}"):
        qs.run(3)
    commit = qs.repo.head()
    with scenario.then(f"production is Synced at the commit of {NEW_TAG} and its canary runs"):
        assert qs.repo.image_tag("production") == NEW_TAG
        qs.expect_app("production", sync="Synced", revision=commit, timeout=60)
        canary = scenario.rollout()
        assert canary.image_tag == NEW_TAG, f"production's Rollout runs {canary.image_tag}"
        assert canary.health() is not None, "the new tag was promoted before anyone looked"
    with scenario.and_("the dashboard shows production's Rollout and its canary"):
        info = dashboard.rollout_info("production", APP)
        images = str(info.get("containers") or info)
        assert NEW_TAG in images, f"the dashboard's view of {APP} lacks {NEW_TAG}: {images}"

    with scenario.when(f"step 4: {qs.steps[4].title}"):
        (status,) = qs.run(4)
    with scenario.then("status shows the canary of the new tag, not yet Healthy"):
        shown = status.stdout + status.stderr
        assert NEW_TAG in shown, f"status does not name {NEW_TAG}:\n{shown}"
        assert re.search(r"Status:\s+\S*\s*(Progressing|Paused)", shown), shown

    with scenario.when(f"step 5: {qs.steps[5].title}"):
        qs.run(5)
    with scenario.then(f"the Rollout is 100% on {NEW_TAG} and Healthy"):
        scenario.expect_healthy(NEW_TAG, timeout=120)
        promoted = scenario.rollout()
        scenario.expect_pods_on(promoted.stable_hash, 5, timeout=60)
        qs.expect_app("production", sync="Synced", health="Healthy", revision=commit)

    with scenario.when(f"step 6: {qs.steps[6].title}"):
        qs.run(6)
    with scenario.then("git holds the revert of the tag and the incident record on top"):
        log = qs.repo.log(3)
        assert log[1].subject.startswith("Revert "), [c.subject for c in log]
        assert qs.repo.image_tag("production") == seed_tag
        incidents = git(qs.repo.bare, "show", "--name-only", "--format=", "main").stdout
        record = next((p for p in incidents.split() if p.startswith("incidents/")), None)
        assert record, f"the last commit adds no incident record: {incidents}"
        assert "error rate spike after deploy" in qs.repo.show(record)
    with scenario.and_(f"production is Synced at that commit and Healthy on {seed_tag}"):
        scenario.expect_healthy(seed_tag, timeout=120)
        qs.expect_app("production", sync="Synced", health="Healthy", revision=qs.repo.head())


def test_the_quick_start_block_is_read_as_documented() -> None:
    """Given README.md; When its Quick Start block is parsed; Then it has steps 1-6 with
    commands, and the deploy, promote and rollback steps are the repository's scripts."""
    steps = {s.number: s for s in quick_start_steps(README.read_text())}
    assert sorted(steps) == [1, 2, 3, 4, 5, 6]
    assert all(s.commands for s in steps.values())
    assert steps[4].commands == ["./scripts/promote-canary.sh status production sre-platform"]
    assert steps[5].commands == ["./scripts/promote-canary.sh promote production sre-platform"]
    assert steps[6].commands[-1] == (
        './scripts/rollback.sh production "error rate spike after deploy"'
    )
    # One command a line: a continued line would run as two broken commands.
    assert not [c for s in steps.values() for c in s.commands if c.endswith("\\")]
