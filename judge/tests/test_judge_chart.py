"""The judge's own chart (judge/chart), rendered by the pinned helm and checked against the
Kubernetes 1.34 schemas; and the sre-platform chart's judge metric, as Argo Rollouts would
run it against this very service."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from judge_servers import JUDGE_DIR

from fixtures.static import schemas
from fixtures.tools import REPO_ROOT, tool_path, tool_version

CHART = JUDGE_DIR / "chart"
KUBE_VERSION = tool_version("kubernetes").lstrip("v")


def _helm(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(tool_path("helm")), *args, "--kube-version", KUBE_VERSION],
        capture_output=True,
        text=True,
        check=check,
        timeout=120,
    )


def _render(chart: Path, *args: str, namespace: str = "monitoring") -> list[dict[str, Any]]:
    out = _helm("template", "sre-judge", str(chart), "-n", namespace, *args).stdout
    return [d for d in yaml.safe_load_all(out) if d]


def _find(objects: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    return next(o for o in objects if o["kind"] == kind)


def test_the_chart_lints_and_every_object_matches_its_schema() -> None:
    _helm("lint", "--strict", str(CHART), "--set", "image.tag=0.1.0")
    objects = _render(CHART, "--set", "image.tag=0.1.0")
    assert {o["kind"] for o in objects} == {
        "Deployment", "Service", "ServiceAccount", "PodDisruptionBudget", "NetworkPolicy",
    }  # fmt: skip
    for obj in objects:
        assert schemas.validate(obj, KUBE_VERSION) == [], obj["kind"]


def test_the_pod_is_restricted_and_reads_the_configured_prometheus() -> None:
    url = "http://prometheus.example:9090"
    deployment = _find(
        _render(CHART, "--set", "image.tag=0.1.0", "--set", f"prometheus.url={url}"), "Deployment"
    )
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env["PROMETHEUS_URL"] == url
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"


@pytest.mark.parametrize(
    ("args", "message"),
    [((), "image.tag is required"), (("--set", "image.tag=latest"), "must not be latest")],
)
def test_an_unpinned_image_does_not_render(args: tuple[str, ...], message: str) -> None:
    result = _helm("template", "x", str(CHART), *args, check=False)
    assert result.returncode != 0 and message in result.stderr


def test_the_platform_charts_default_url_is_this_charts_service() -> None:
    """analysis.judge.url (helm/values.yaml) reaches the Service this chart renders for
    release sre-judge in namespace monitoring."""
    service = _find(_render(CHART, "--set", "image.tag=0.1.0"), "Service")
    values = yaml.safe_load((REPO_ROOT / "helm" / "values.yaml").read_text())
    expected = f"http://{service['metadata']['name']}.{service['metadata']['namespace']}.svc"
    assert values["analysis"]["judge"]["url"] == expected
    assert service["spec"]["ports"][0]["port"] == 80


def _judge_metric(env: str, *args: str) -> dict[str, Any] | None:
    objects = _render(
        REPO_ROOT / "helm", "-f", str(REPO_ROOT / "helm" / f"values-{env}.yaml"), *args,
        namespace=env,
    )  # fmt: skip
    for obj in objects:
        if obj["kind"] == "AnalysisTemplate" and obj["metadata"]["name"].endswith("-judge"):
            metric: dict[str, Any] = obj["spec"]["metrics"][0]
            return metric
    return None


@pytest.mark.parametrize(
    ("env", "enabled"),
    [
        ("production", True),
        ("staging", True),
        ("dev", False),
        ("lab", False),
        ("lab-real-node", False),
    ],
)
def test_the_judge_metric_is_on_where_the_values_say(env: str, enabled: bool) -> None:
    assert (_judge_metric(env) is not None) is enabled


def test_the_metrics_request_is_a_valid_judge_request() -> None:
    """The jsonBody the chart renders, with Argo's args substituted, is accepted by the
    judge's own request model: the chart and the service agree on the contract."""
    from sre_judge.model import JudgeRequest

    metric = _judge_metric("production")
    assert metric is not None
    web = metric["provider"]["web"]
    assert web["method"] == "POST" and web["url"].endswith("/v1/judge")
    assert web["jsonPath"] == "{$.result}"
    body = {
        k: v.replace("{{args.namespace}}", "production")
        .replace("{{args.latest-hash}}", "6d4f9c7b8")
        .replace("{{args.stable-hash}}", "5c8b7d6f9")
        if isinstance(v, str)
        else v
        for k, v in web["jsonBody"].items()
    }
    request = JudgeRequest.model_validate(body)
    assert (request.canary_hash, request.baseline_hash) == ("6d4f9c7b8", "5c8b7d6f9")
    assert request.min_requests == 200


def test_blue_green_has_no_judge() -> None:
    assert _judge_metric("production", "--set", "rollouts.strategy=blueGreen") is None


def test_inconsistent_score_cut_offs_fail_the_render() -> None:
    result = _helm(
        "template", "x", str(REPO_ROOT / "helm"),
        "-f", str(REPO_ROOT / "helm" / "values-production.yaml"),
        "--set", "analysis.judge.score.marginal=99", check=False,
    )  # fmt: skip
    assert result.returncode != 0
    assert "analysis.judge.score.marginal (99) must not be above" in result.stderr


@pytest.mark.parametrize(
    ("result", "phase"),
    [("pass", "Successful"), ("marginal", "Inconclusive"), ("fail", "Failed"),
     ("inconclusive", "Failed"), ("", "Failed")],
)  # fmt: skip
def test_the_conditions_turn_each_result_into_the_right_phase(result: str, phase: str) -> None:
    """Evaluated by Argo Rollouts' own EvaluateResult (rollouts-evaluate, the static tier's
    evaluator) on what the web provider hands it, the string at jsonPath {$.result}: only
    pass succeeds, marginal pauses the rollout, fail and inconclusive fail the measurement."""
    from policies.conditions import Evaluator

    metric = _judge_metric("production")
    assert metric is not None
    evaluator = Evaluator(tool_path("rollouts-evaluate"))
    try:
        got, _ = evaluator.evaluate(
            metric["successCondition"], metric["failureCondition"], {"value": result}
        )
    finally:
        evaluator.close()
    assert str(got) == phase
