"""The engine's own parts, on small inputs: condition phases from the controller's own code
(rollouts-evaluate), PromQL names, Go templates, waivers, YAML errors and the report formats."""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path

import pytest

from fixtures.static.config import OPTIONS, build_config
from fixtures.static.findings import Locator, github_annotations, sarif
from policies.casefiles import find_cases, run_case
from policies.catalogue import load_catalogue
from policies.conditions import Phase, encode_result, evaluator
from policies.engine import apply_waivers, waiver_problems
from policies.errors import CatalogueError, InputError, MissingInput, UsageError
from policies.gotemplate import TemplateError, render
from policies.promql import PromQLError, parse, substitute_args
from policies.waivers import load_waivers
from policies.yamlio import load_documents

NAN = math.nan
GUARDED = "len(result) > 0 && !isNaN(result[0]) && result[0] >= 0.99"


@pytest.mark.parametrize(
    ("success", "failure", "result", "phase"),
    [
        (GUARDED, None, [0.99], Phase.SUCCESSFUL),
        (GUARDED, None, [0.9899], Phase.FAILED),
        (GUARDED, None, [], Phase.FAILED),
        (GUARDED, None, [NAN], Phase.FAILED),
        ("result[0] >= 0.99", None, [], Phase.ERROR),  # index out of range: an Error measurement
        ("result[0] >= 0.99", None, [NAN], Phase.FAILED),  # NaN comparisons are false, as in Go
        (
            None,
            "result[0] < 0.99",
            [NAN],
            Phase.SUCCESSFUL,
        ),  # the trap analysis/no-data-fails catches
        ("result[0] < 0.5", "result[0] >= 0.5", [], Phase.ERROR),
        (
            "len(result) > 0 && result[0] < 0.5",
            "len(result) > 0 && result[0] >= 0.5",
            [],
            Phase.INCONCLUSIVE,
        ),
        (None, None, [1.0], Phase.SUCCESSFUL),
        ("result == 0", None, 0.0, Phase.SUCCESSFUL),  # a scalar query
        ("all(result, {# < 0.5}) && len(result) > 0", None, [0.1, 0.2], Phase.SUCCESSFUL),
        ("any(result, {# >= 0.5})", None, [0.1, 0.7], Phase.SUCCESSFUL),
        ("result[-1] == 3", None, [1, 2, 3], Phase.SUCCESSFUL),
        ("asInt(result[0]) == 3", None, [3.9], Phase.SUCCESSFUL),
        ("default(result, 0) == 0", None, None, Phase.SUCCESSFUL),
        ("isNil(result)", None, None, Phase.SUCCESSFUL),
        ("result[0] > 'a'", None, [1.0], Phase.ERROR),  # type error
        ("result[0] >>> 1", None, [1.0], Phase.ERROR),  # does not compile
        ("result[0]", None, [1.0], Phase.ERROR),  # not a bool
    ],
)
def test_conditions_are_measured_like_argo_rollouts(
    success: str | None, failure: str | None, result: object, phase: Phase
) -> None:
    # The phases come from the controller's own EvaluateResult (rollouts-evaluate): this table
    # is the contract the analysis rules rely on, re-checked whenever the pin moves.
    assert evaluator().evaluate(success, failure, _as_provider_gives(result))[0] is phase


def _as_provider_gives(result: object) -> dict[str, object]:
    if result is None:
        return {"value": None}
    return encode_result(result, scalar=not isinstance(result, list))


def test_no_data_is_reported_with_the_controllers_own_message() -> None:
    phase, message = evaluator().evaluate("result[0] >= 0.99", None, {"vector": []})
    assert phase is Phase.ERROR
    assert "no data returned from the metric provider" in message  # utils/evaluate's text


@pytest.mark.parametrize(
    ("condition", "value"),
    [
        ("!true == false", True),  # unary binds tighter than ==, as in expr-lang
        ("not (1 in [1, 2])", False),
        ("3 not in [1, 2]", True),
        ("1 + 2 * 3 == 7", True),
        ("2 ** 3 ** 2 == 512", True),  # right associative
        ("7 / 2 == 3.5", True),  # division is float
        ("7 % 4 == 3", True),
        ("true ? 1 < 2 : false", True),
        ("'abc' startsWith 'ab' && 'abc' contains 'b' && 'abc' matches '^a.c$'", True),
        ("nil ?? true", True),
        ("len([1, 2, 3]) == 3 && max(1, 5, 2) == 5 && min([4, 2]) == 2", True),
    ],
)
def test_expression_language_semantics(condition: str, value: bool) -> None:
    phase = Phase.SUCCESSFUL if value else Phase.FAILED
    assert evaluator().evaluate(condition, None, {"value": None})[0] is phase


def test_promql_names_metrics_not_functions_or_labels() -> None:
    query = substitute_args(
        "histogram_quantile(0.99, sum by (le) "
        '(rate(http_request_duration_seconds_bucket{namespace="{{args.ns}}",'
        ' route=~"/api/.*"}[2m]))) / on(pod) group_left up offset 5m',
        {"ns": "production"},
    )
    info = parse(query)
    assert info.metrics == {"http_request_duration_seconds_bucket", "up"}
    assert info.selectors[0].matchers == {
        "namespace": ("=", "production"),
        "route": ("=~", "/api/.*"),
    }
    assert {"le", "pod"} <= info.label_lists
    assert 0.99 in info.numbers
    assert info.ranges == [120.0]


@pytest.mark.parametrize(
    "query, message",
    [
        ("sum(rate(http_requests_total[1m])", "unclosed left parenthesis"),
        ("rate(http_requests_total)", "expected type matrix"),
        ('http_requests_total{status=~"5(.."}', "regex"),
        ("a and on(pod) group_left b", "no grouping allowed"),
    ],
)
def test_promql_syntax_errors_are_prometheus_own(query: str, message: str) -> None:
    # promql-parser implements Prometheus' grammar: what Prometheus rejects is rejected here,
    # with its reason (a tokenizer accepted all four).
    with pytest.raises(PromQLError, match=message):
        parse(query)


def test_promql_placeholders_without_values_still_parse() -> None:
    # podTemplateHashValue args have no value before a rollout runs.
    info = parse('sum(rate(x{pod=~"{{args.name}}-{{args.hash}}-.+"}[{{args.window}}]))')
    assert info.metrics == {"x"}
    assert info.ranges == [60.0]


def test_go_templates_render_like_argo_cd() -> None:
    patch = "{{- if .autoSync }}\nspec:\n  syncPolicy: {automated: {prune: true}}\n{{- end }}"
    assert "automated" in render(patch, {"autoSync": True})
    assert render(patch, {"autoSync": False}).strip() == ""
    assert (
        render(
            '{{ .env | upper | quote }}-{{ if eq .env "dev" }}D{{ else }}X{{ end }}', {"env": "dev"}
        )
        == '"DEV"-D'
    )
    with pytest.raises(TemplateError, match="no entry for key 'cluster'"):
        render("{{ .cluster }}", {"env": "dev"}, strict=True)
    assert render("{{ .cluster }}", {}, strict=False) == "<no value>"


def test_malformed_yaml_names_the_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "application.yaml"
    path.write_text("kind: Application\nspec: {project: [\n")
    with pytest.raises(InputError, match=r"application\.yaml:3: malformed YAML") as info:
        load_documents(path)
    assert info.value.exit_code == 65


def test_missing_file_is_exit_66(tmp_path: Path) -> None:
    with pytest.raises(MissingInput) as info:
        load_documents(tmp_path / "nope.yaml")
    assert info.value.exit_code == 66 and "nope.yaml" in str(info.value)


def _write_waivers(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "waivers.yaml"
    path.write_text(body)
    return path


def test_waiver_with_unknown_rule_is_an_error(tmp_path: Path) -> None:
    path = _write_waivers(
        tmp_path,
        "waivers:\n  - rule: pod-security/run-as-root\n"
        "    reason: a long enough reason for the reviewer\n    expires: 2099-01-01\n",
    )
    with pytest.raises(
        CatalogueError,
        match=r"waivers\.yaml:2: waiver names unknown rule id 'pod-security/run-as-root'",
    ):
        load_waivers(path, load_catalogue())


def test_waiver_needs_reason_and_date(tmp_path: Path) -> None:
    path = _write_waivers(
        tmp_path, "waivers:\n  - {rule: images/explicit-tag, reason: ok, expires: 2099-01-01}\n"
    )
    with pytest.raises(CatalogueError, match="needs a reason"):
        load_waivers(path, load_catalogue())
    path = _write_waivers(
        tmp_path,
        "waivers:\n  - rule: images/explicit-tag\n    reason: a long enough reason "
        "for the reviewer\n    expires: soon\n",
    )
    with pytest.raises(CatalogueError, match="is not a YYYY-MM-DD date"):
        load_waivers(path, load_catalogue())


def test_waivers_suppress_until_they_expire(tmp_path: Path) -> None:
    catalogue = load_catalogue()
    rule = catalogue.get("images/explicit-tag")
    case = next(c for c in find_cases(rule) if c.path.name == "fail-latest.yaml")
    path = _write_waivers(
        tmp_path,
        "waivers:\n  - rule: images/explicit-tag\n    subject: 'Rollout/production/*'\n"
        "    reason: the vendor publishes only latest until 2.0\n"
        "    expires: 2026-03-31\n",
    )
    waivers = load_waivers(path, catalogue)
    before, after = dt.date(2026, 3, 31), dt.date(2026, 4, 1)
    findings = run_case(case)
    apply_waivers(waivers, findings, before)
    assert all(f.waiver is waivers[0] for f in findings)
    assert waiver_problems(waivers, findings, before) == []
    findings = run_case(case)
    apply_waivers(waivers, findings, after)
    assert all(f.waiver is None for f in findings), "an expired waiver must not suppress anything"
    assert "has expired" in waiver_problems(waivers, findings, after)[0]
    assert "matches no finding" in waiver_problems(waivers, [], before)[0]


def test_reports_point_at_the_values_line(tmp_path: Path) -> None:
    """A finding with a values key is annotated at that key's line in the environment's file."""
    catalogue = load_catalogue()
    rule = catalogue.get("images/explicit-tag")
    case = next(c for c in find_cases(rule) if c.path.name == "fail-latest.yaml")
    findings = run_case(case)
    (tmp_path / "helm").mkdir()
    (tmp_path / "helm/values-production.yaml").write_text(
        "# prod\nimage:\n  # the tag\n  tag: latest\n"
    )
    locator = Locator(tmp_path, {"production": ["helm/values-production.yaml"]})
    lines = github_annotations(findings, locator)
    assert lines[0].startswith(
        "::error file=helm/values-production.yaml,line=4,title=images/explicit-tag::"
    )
    log = sarif(findings, catalogue, locator)
    assert log["version"] == "2.1.0"
    assert len(log["runs"][0]["tool"]["driver"]["rules"]) == len(catalogue.rules)
    result = log["runs"][0]["results"][0]
    assert result["ruleId"] == "images/explicit-tag" and result["level"] == "error"
    assert result["locations"][0]["physicalLocation"]["region"]["startLine"] == 4
    json.dumps(log)  # serialisable as is


def test_annotations_escape_newlines_and_percent(tmp_path: Path) -> None:
    case = next(
        c for c in find_cases(load_catalogue().get("analysis/no-data-fails")) if not c.passing
    )
    findings = run_case(case)
    for line in github_annotations(findings, Locator(tmp_path)):
        assert "\n" not in line and line.count("::") == 2


def test_option_values_are_checked(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parents[3]
    by_flag = {o.flag: o for o in OPTIONS}

    def config_with(**values: object):  # type: ignore[no-untyped-def]
        return build_config(root, lambda option: values.get(option.dest))

    assert config_with().envs, "the repository's own layout needs no options"
    with pytest.raises(UsageError, match="expected ENV=FILE") as usage:
        config_with(values=["production"])
    assert usage.value.exit_code == 64
    with pytest.raises(UsageError, match="unknown environment 'qa'"):
        config_with(variants=["qa-canary=qa:rollouts.enabled=true"])
    with pytest.raises(MissingInput, match="workflows folder"):
        config_with(workflows_dir=str(tmp_path / "missing"))
    assert by_flag["--chart"].ini == "static_chart" and by_flag["--chart"].env == "SRE_STATIC_CHART"
