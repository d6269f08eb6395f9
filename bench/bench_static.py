"""Speed of the static tier (warm wall time) and of the policy engine at scale.

Prints `<name>: <value> <unit>` lines (docs/interfaces.md, Benchmarks):
  static-tier-warm-wall      the whole `pytest suites/static`, warm caches, best of N runs
  engine-objects-per-second  10,000 generated Deployments through every workload/manifest rule
  kube-score-objects-per-second  kube-score on the same files, round by round with the engine
  engine-vs-kube-score       the ratio of the two (best rounds)
  foreign-*                  each foreign-corpus repository through kube-score and the tier
Exit 0 after measuring; non-zero only when it cannot measure (e.g. helm is not built).
"""

from __future__ import annotations

import argparse
import copy
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from multiprocessing import Pool
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT)]

from fixtures.render import RenderRequest, helm_template_e  # noqa: E402
from fixtures.tools import ToolMissing, tool_dir, tool_path  # noqa: E402
from policies import conditions  # noqa: E402
from policies.catalogue import load_catalogue  # noqa: E402
from policies.engine import evaluate  # noqa: E402
from policies.inputs import objects_from_file  # noqa: E402
from policies.model import Bundle  # noqa: E402
from policies.sources import Repo  # noqa: E402

Dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def figure(name: str, value: float | str, unit: str = "") -> None:
    shown = f"{value:.2f}" if isinstance(value, float) else value
    print(f"{name}: {shown} {unit}".rstrip(), flush=True)


def tier_wall(runs: int) -> None:
    # As `make static` runs it: through scripts/run-pytest.sh (its bytecode cache), with no
    # third-party pytest plugins (the tier needs none).
    command = [
        str(ROOT / "scripts" / "run-pytest.sh"),
        "--scratch-in-memory",  # as make static
        "bench-static",
        "suites/static",
        "-q",
        "-p",
        "no:cacheprovider",
        "--sarif",
        "",
    ]
    env = {**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    subprocess.run(command, cwd=ROOT, env=env, capture_output=True, check=False)  # warm caches
    walls, cpus = [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        proc = subprocess.run(
            command, cwd=ROOT, env=env, capture_output=True, text=True, check=False
        )
        walls.append(time.perf_counter() - started)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
        if proc.returncode != 0:
            figure("static-tier-status", f"FAILED (exit {proc.returncode})")
    summary = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else "?"
    figure("static-tier-warm-wall", min(walls), "s")
    figure("static-tier-warm-wall-median", statistics.median(walls), "s")
    figure("static-tier-warm-cpu", min(cpus), "s")
    figure("static-tier-tests", summary)
    figure("load-average-1m", os.getloadavg()[0])
    cpu_speed()


def cpu_speed() -> None:
    """A fixed pure-Python loop, best and worst of 7: on a shared VM the same code runs up to
    1.7x slower from one minute to the next, so figures of two runs compare only with this."""
    times = []
    for _ in range(7):
        started = time.perf_counter()
        sum(i * i for i in range(1_000_000))
        times.append(time.perf_counter() - started)
    figure("cpu-loop-best", 1000 * min(times), "ms (lower is a faster machine right now)")
    figure("cpu-loop-worst", 1000 * max(times), "ms")


def base_deployment() -> dict[str, Any]:
    """The chart's real production pod spec, rendered as the plain-Deployment variant."""
    request = RenderRequest(
        ROOT / "helm",
        "sre-platform",
        "production",
        (ROOT / "helm/values-production.yaml",),
        ("rollouts.enabled=false",),
        "v1.34.0",
    )
    manifest, error = helm_template_e(request)
    if error is not None:
        raise SystemExit(f"bench-static: cannot render the chart: {error}")
    for doc in yaml.load_all(manifest, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
        if isinstance(doc, dict) and doc.get("kind") == "Deployment":
            return doc
    raise SystemExit("bench-static: the chart rendered no Deployment")


def generate(count: int, per_file: int, folder: Path) -> list[Path]:
    """`count` Deployments, a tenth of them with a realistic defect each, in files of `per_file`."""
    base = base_deployment()
    files = []
    for start in range(0, count, per_file):
        docs = []
        for i in range(start, min(start + per_file, count)):
            obj = copy.deepcopy(base)
            name = f"app-{i:05d}"
            obj["metadata"]["name"] = name
            for labels in (
                obj["metadata"]["labels"],
                obj["spec"]["selector"]["matchLabels"],
                obj["spec"]["template"]["metadata"]["labels"],
            ):
                labels["app.kubernetes.io/name"] = name
            container = obj["spec"]["template"]["spec"]["containers"][0]
            if i % 10 == 1:
                container["image"] = container["image"].rsplit(":", 1)[0] + ":latest"
            elif i % 10 == 2:
                container.pop("resources", None)
            elif i % 10 == 3:
                container["securityContext"] = {"privileged": True}
            docs.append(obj)
        path = folder / f"workloads-{start // per_file:03d}.yaml"
        path.write_text(yaml.dump_all(docs, Dumper=Dumper, sort_keys=False))
        files.append(path)
    return files


def engine_file(path: str) -> tuple[int, int, float, float]:
    """(objects, findings, parse seconds, rule seconds) for one file as one bundle."""
    conditions.use(tool_path("rollouts-evaluate"))  # once per (pool) process
    catalogue = load_catalogue()
    rules = catalogue.for_scope("workloads", "manifests")
    started = time.perf_counter()
    objects = objects_from_file(Path(path), Path(path).parent, namespace="production")
    parsed = time.perf_counter()
    repo = Repo(
        root=str(Path(path).parent), bundles=[Bundle(Path(path).name, objects, env="production")]
    )
    findings = sum(len(evaluate(rule, repo)) for rule in rules)
    return len(objects), findings, parsed - started, time.perf_counter() - parsed


def engine(files: list[Path], jobs: int) -> tuple[float, int, int, float, float]:
    started = time.perf_counter()
    if jobs == 1:
        results = [engine_file(str(f)) for f in files]
    else:
        with Pool(jobs) as pool:
            results = pool.map(engine_file, [str(f) for f in files])
    wall = time.perf_counter() - started
    objects = sum(r[0] for r in results)
    return (
        wall,
        objects,
        sum(r[1] for r in results),
        sum(r[2] for r in results),
        sum(r[3] for r in results),
    )


def kube_score_binary() -> Path | None:
    try:
        return tool_path("kube-score")
    except ToolMissing:
        binary = tool_dir("kube-score") / "kube-score" if _has_pin("kube-score") else None
        return binary if binary is not None and binary.is_file() else None


def kube_score(binary: Path, files: list[Path]) -> tuple[float, int]:
    """(wall seconds, CRITICAL lines) of kube-score's default checks over `files`."""
    command = [
        str(binary),
        "score",
        "--output-format",
        "ci",
        "--kubernetes-version",
        "v1.34",
        *map(str, files),
    ]
    started = time.perf_counter()
    proc = subprocess.run(command, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    return wall, sum(1 for line in proc.stdout.splitlines() if line.startswith("[CRITICAL]"))


def side_by_side(files: list[Path], rounds: int) -> None:
    """The engine (one process) and kube-score on the same files, interleaved round by round
    so that both meet the same load; the best round of each is compared."""
    binary = kube_score_binary()
    engine_walls, score_walls = [], []
    objects = findings = 0
    parse_s = rule_s = 0.0
    for _ in range(rounds):
        wall, objects, findings, parse_s, rule_s = engine(files, 1)
        engine_walls.append(wall)
        if binary is not None:
            score_walls.append(kube_score(binary, files)[0])
    best = min(engine_walls)
    figure("engine-objects-per-second", objects / best, f"objects/s (1 process, best of {rounds})")
    figure(
        "engine-objects-per-second-median",
        objects / statistics.median(engine_walls),
        "objects/s (1 process)",
    )
    figure(
        "engine-parse-share", 100 * parse_s / (parse_s + rule_s), "% of engine time in YAML parsing"
    )
    figure(
        "engine-rules-only-objects-per-second", objects / rule_s, "objects/s (rules, parsed input)"
    )
    figure("engine-findings", findings)
    if binary is None:
        figure("kube-score", "not built (make tools); no comparison")
        return
    checks = subprocess.run([str(binary), "list"], capture_output=True, text=True, check=False)
    default_checks = [
        line for line in checks.stdout.splitlines() if line.strip().endswith(",default")
    ]
    figure("kube-score-version", "v1.20.0 (kube-linter: module proxy refuses it, not built)")
    figure("kube-score-checks", len(default_checks), "default checks")
    figure("kube-score-wall", min(score_walls), "s")
    figure(
        "kube-score-objects-per-second", objects / min(score_walls), f"objects/s (best of {rounds})"
    )
    figure(
        "kube-score-objects-per-second-median",
        objects / statistics.median(score_walls),
        "objects/s",
    )
    figure("engine-vs-kube-score", min(score_walls) / best, "x (best rounds; the goal is >= 2)")


def foreign(tmp: Path) -> None:
    """The foreign corpus (suites/static/foreign/): each repository's judged objects through
    kube-score and through the tier (the whole `pytest suites/static --repo`, and the engine
    alone), side by side; and the tier's tracebacks over the corpus (must be 0)."""
    from fixtures.static.config import build_config
    from fixtures.static.session import StaticSession, preflight
    from policies.engine import run
    from policies.errors import InputError

    binary = kube_score_binary()
    corpus = ROOT / "suites" / "static" / "foreign"
    totals = {"objects": 0, "score": 0.0, "tier": 0.0, "engine": 0.0}
    tracebacks = 0
    for repo in sorted(p for p in corpus.iterdir() if p.is_dir()):
        command = [
            sys.executable, "-m", "pytest", "suites/static", "--repo", str(repo), "-q",
            "-p", "no:cacheprovider", "--sarif", "",
        ]  # fmt: skip
        env = {**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
        started = time.perf_counter()
        proc = subprocess.run(
            command, cwd=ROOT, env=env, capture_output=True, text=True, check=False
        )
        tier = time.perf_counter() - started
        tracebacks += (proc.stdout + proc.stderr).count("Traceback")
        try:
            config = build_config(ROOT, lambda o, r=repo: str(r) if o.dest == "repo" else None)
            preflight(config)
            session = StaticSession(config, load_catalogue(), [])
            if session.render_failure() is not None:
                raise InputError("does not render")
        except InputError:
            figure(
                f"foreign-{repo.name}", f"bad input, tier exit {proc.returncode} in {tier:.2f} s"
            )
            continue
        started = time.perf_counter()
        run(session.catalogue, session.repo, rules=session.rules)
        engine_wall = time.perf_counter() - started
        judged = {id(o): o for b in session.repo.bundles for o in b.objects}
        if session.repo.argocd is not None:
            judged |= {id(o): o for o in session.repo.argocd.objects}
        session.close()
        path = tmp / f"{repo.name}.yaml"
        path.write_text(yaml.dump_all([o.data for o in judged.values()], Dumper=Dumper))
        score = kube_score(binary, [path])[0] if binary is not None else float("nan")
        count = len(judged)
        totals["objects"] += count
        totals["score"] += score
        totals["tier"] += tier
        totals["engine"] += engine_wall
        figure(
            f"foreign-{repo.name}",
            f"{count} objects: kube-score {score:.2f} s ({count / score:.0f} objects/s), "
            f"tier {tier:.2f} s exit {proc.returncode} ({count / tier:.0f} objects/s), "
            f"engine {engine_wall * 1000:.0f} ms ({count / max(engine_wall, 1e-9):.0f} objects/s)",
        )
    n = totals["objects"]
    figure(
        "foreign-objects-per-second",
        f"kube-score {n / totals['score']:.0f}, tier {n / totals['tier']:.0f}, "
        f"engine {n / max(totals['engine'], 1e-9):.0f}",
        f"objects/s over {n} objects",
    )
    figure("foreign-tracebacks", tracebacks)


def _has_pin(tool: str) -> bool:
    try:
        tool_dir(tool)
    except ToolMissing:
        return False
    return True


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--objects", type=int, default=10_000)
    parser.add_argument("--per-file", type=int, default=1_000)
    parser.add_argument("--runs", type=int, default=3, help="warm tier runs (best is reported)")
    parser.add_argument(
        "--skip-tier", action="store_true", help="only the engine/linter comparison"
    )
    parser.add_argument("--rounds", type=int, default=3, help="engine/kube-score rounds")
    parser.add_argument("--skip-foreign", action="store_true", help="no foreign-corpus run")
    args = parser.parse_args()
    try:
        tool_path("helm")
    except ToolMissing as err:
        print(f"bench-static: {err}", file=sys.stderr)
        return 69
    if not args.skip_tier:
        tier_wall(args.runs)
    with tempfile.TemporaryDirectory(prefix="bench-static-") as tmp:
        files = generate(args.objects, args.per_file, Path(tmp))
        rules = load_catalogue().for_scope("workloads", "manifests")
        figure("engine-rules", len(rules), "workload/manifest rules")
        side_by_side(files, args.rounds)
        jobs = min(os.cpu_count() or 1, len(files))
        wall2, objects2, _, _, _ = engine(files, jobs)
        figure(
            "engine-objects-per-second-parallel", objects2 / wall2, f"objects/s ({jobs} processes)"
        )
        if not args.skip_foreign:
            foreign(Path(tmp))
        figure(
            "load-average-1m",
            os.getloadavg()[0],
            "(figures above are noisy when this exceeds the cores)",
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
