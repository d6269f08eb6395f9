"""The lab's ArgoCD: how long from a git commit to the rollout starting, and how long it builds.

Run by bench/bench-argocd. Needs the lab up (`make lab-up`); starts the lab's ArgoCD when it
is not running (and stops it again afterwards). One Application (this repository's staging
Application, rewritten for the lab, in a namespace of its own) reads a fresh GitOps
repository; each sample is a real commit of a new image tag, pushed like CI's GitOps update,
and timed until:

    synced   the Application is Synced at the commit (ArgoCD has applied it)
    rollout  the Rollout's pod template carries the new tag: the rollout has started
    canary   Argo Rollouts has created the new ReplicaSet (status.currentPodHash moved)

in two modes: `webhook` (the repository's post-receive hook asks ArgoCD to refresh, as
GitHub's push webhook does in production) and `poll` (no hook: ArgoCD finds the commit at its
next poll, every timeout.reconciliation = SRE_LAB_ARGOCD_RESYNC seconds).

Output lines (`<name>: <value> <unit>`, docs/interfaces.md "Benchmarks"):
    argocd-commit-to-rollout-webhook: 1.4 s (median of 3; max 1.6 s; goal < 10 s)
    ...
    argocd-cold-build: 905 s (...)
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from fixtures.core.tools import cache_root, tool_dir, tool_version  # noqa: E402
from fixtures.gitops import applications, argocd, argocd_config  # noqa: E402
from fixtures.gitops.manifests import LabTarget, for_lab, load_manifests  # noqa: E402
from fixtures.gitops.repo import GitOpsRepo  # noqa: E402
from fixtures.lab import api, control_plane  # noqa: E402
from fixtures.lab.layout import LabError  # noqa: E402

GOAL_SECONDS = 10.0
# No analysis: the bench times ArgoCD, not the canary; one step so a rollout still runs.
BENCH_VALUES: dict[str, Any] = {
    "rollouts": {"canary": {"steps": [{"setWeight": 50}]}},
}


def _get(path: str) -> dict[str, Any] | None:
    try:
        data: dict[str, Any] | None = api.get(path)
    except LabError:
        return None
    return data


class Bench:
    def __init__(self, tmp: Path) -> None:
        self.ns = f"bench-argocd-{uuid.uuid4().hex[:5]}"
        self.prefix = f"b{uuid.uuid4().hex[:5]}-"
        self.repo = GitOpsRepo.create(tmp / "gitops")
        target = LabTarget(
            repo_url=self.repo.url,
            namespaces={"staging": self.ns},
            prefix=self.prefix,
            values={"staging": BENCH_VALUES},
            environments=("staging",),
        )
        docs = load_manifests([REPO_ROOT / "argocd" / "application.yaml"])
        self.manifests = for_lab(docs, target)
        self.app = f"{self.prefix}sre-platform-staging"
        self.app_path = f"/apis/argoproj.io/v1alpha1/namespaces/argocd/applications/{self.app}"
        self.rollout_path = f"/apis/argoproj.io/v1alpha1/namespaces/{self.ns}/rollouts/sre-platform"

    def setup(self) -> None:
        argocd_config.apply(self.manifests)
        applications.wait_app(self.app, 180, sync="Synced", health="Healthy")

    def teardown(self) -> None:
        applications.delete_applications([self.app])
        for doc in self.manifests:
            if doc["kind"] == "AppProject":
                applications.delete_project(doc["metadata"]["name"])
        api.kube().delete_namespace(self.ns)

    def _synced(self, commit: str) -> bool:
        app = _get(self.app_path) or {}
        sync = (app.get("status") or {}).get("sync") or {}
        return bool(sync.get("status") == "Synced" and sync.get("revision") == commit)

    def _rollout(self) -> dict[str, Any]:
        return _get(self.rollout_path) or {}

    def sample(self, tag: str, timeout: float = 120) -> dict[str, float]:
        """One commit: seconds to synced, to the rollout starting, to the canary."""
        old_hash = (self._rollout().get("status") or {}).get("currentPodHash")
        t0 = time.monotonic()
        commit = self.repo.set_image_tag("staging", tag, f"bench: image.tag -> {tag}").sha
        seen: dict[str, float] = {"push": time.monotonic() - t0}
        while len(seen) < 4:
            if time.monotonic() - t0 > timeout:
                raise TimeoutError(f"bench-argocd: after {timeout:.0f}s only {sorted(seen)}")
            now = time.monotonic() - t0
            rollout = self._rollout()
            spec = rollout.get("spec") or {}
            containers = ((spec.get("template") or {}).get("spec") or {}).get("containers") or [{}]
            if "rollout" not in seen and str(containers[0].get("image", "")).endswith(f":{tag}"):
                seen["rollout"] = now
            pod_hash = (rollout.get("status") or {}).get("currentPodHash")
            if "rollout" in seen and "canary" not in seen and pod_hash not in (None, old_hash):
                seen["canary"] = now
            if "synced" not in seen and self._synced(commit):
                seen["synced"] = now
            time.sleep(0.05)
        applications.wait_app(self.app, timeout, sync="Synced", health="Healthy", revision=commit)
        return seen


def _cold_build_line() -> str:
    version = tool_version("argo-cd")
    cold = cache_root() / "tools" / "argo-cd" / f"cold-build-{version}.txt"
    if cold.is_file():
        fields = dict(line.split("=", 1) for line in cold.read_text().splitlines() if "=" in line)
        return (
            f"argocd-cold-build: {fields.get('seconds', '?')} s ({version}, empty Go module and "
            f"build caches, {fields.get('cores', '?')} core(s), load average at start "
            f"{fields.get('loadavg_start', '?')}, measured {fields.get('date', '?')})"
        )
    recorded = tool_dir("argo-cd") / "build-seconds"
    if recorded.is_file():
        return (
            f"argocd-build: {recorded.read_text().strip()} s ({version}; the build that "
            "produced the cached binary, cold only if Go's caches were empty: "
            "bench/bench-argocd --cold measures)"
        )
    return f"# argocd-cold-build: not measured ({version} not built; make tools)"


def main() -> int:
    parser = argparse.ArgumentParser(prog="bench/bench-argocd")
    parser.add_argument("--samples", type=int, default=3, help="commits per mode (default 3)")
    parser.add_argument("--build-only", action="store_true", help="print the build time only")
    args = parser.parse_args()

    print(_cold_build_line())
    if args.build_only:
        return 0
    if not control_plane.api_ready():
        print("bench-argocd: the lab is not up; run 'make lab-up' first", file=sys.stderr)
        return 1
    state = argocd.up(say=lambda line: None)
    results: dict[str, list[dict[str, float]]] = {}
    try:
        with tempfile.TemporaryDirectory(prefix="bench-argocd-") as tmp:
            bench = Bench(Path(tmp))
            try:
                bench.setup()
                for mode in ("webhook", "poll"):
                    if mode == "poll":
                        bench.repo.remove_webhook()
                    else:
                        bench.repo.install_webhook()
                    results[mode] = [
                        bench.sample(f"bench-{mode}-{i}-{uuid.uuid4().hex[:6]}")
                        for i in range(args.samples)
                    ]
            finally:
                bench.teardown()
    finally:
        if state.started:
            argocd.down(say=lambda line: None)

    for mode, samples in results.items():
        for key, label in (
            ("synced", "commit-to-synced"),
            ("rollout", "commit-to-rollout"),
            ("canary", "commit-to-canary"),
        ):
            values = [s[key] for s in samples]
            goal = f"; goal < {GOAL_SECONDS:.0f} s" if key == "rollout" else ""
            print(
                f"argocd-{label}-{mode}: {statistics.median(values):.1f} s "
                f"(median of {len(values)}; max {max(values):.1f} s{goal})"
            )
    print(
        f"# poll: ArgoCD's timeout.reconciliation is {argocd.RESYNC_SECONDS}s in the lab "
        "(180s in argocd/install.yaml); webhook: the GitOps repository's post-receive hook"
    )
    print("# raw samples: " + json.dumps({m: s for m, s in results.items()}, default=round))
    return 0


if __name__ == "__main__":
    sys.exit(main())
