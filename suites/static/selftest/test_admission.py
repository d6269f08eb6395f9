"""The rules' admission form (issue 17): deploy/admission/ is what the rule files generate,
the generator refuses what it cannot produce, and enough rules have one.

The e2e tier proves each policy gives the static verdict on the API server
(suites/e2e/test_admission.py); here, without a cluster, that what ships is current.
"""

from __future__ import annotations

import shutil
from functools import cache
from pathlib import Path

import pytest
import yaml

from fixtures.static.schemas import validate
from fixtures.static.session import StaticSession
from policies.admission.__main__ import main as admission_command
from policies.admission.manifests import AdmissionError, admission_rules, generate, policy_name
from policies.admission.output import differences
from policies.admission.templates import TEMPLATES, WITHOUT_TEMPLATE
from policies.catalogue import RULES_DIR, load_catalogue
from policies.errors import EX_DATAERR
from policies.loader import all_checks

CATALOGUE = load_catalogue()
MINIMUM_ADMISSION_RULES = 25
OBJECT_SCOPES = ("workloads", "manifests")


@cache
def generated() -> dict[str, str]:
    """deploy/admission/'s files as the rules make them, generated once for the tests."""
    return generate(CATALOGUE)


def test_deploy_admission_is_current(static: StaticSession) -> None:
    """Like argocd/rollout.yaml and the chart: the generated manifests never drift from the
    rules they come from."""
    folder = static.config.root / "deploy" / "admission"
    stale = differences(folder, generated())
    assert not stale, "deploy/admission/ is stale, regenerate it with `make admission`:\n" + (
        "\n".join(stale)
    )


def test_enough_rules_have_an_admission_form() -> None:
    count = len(admission_rules(CATALOGUE))
    assert count >= MINIMUM_ADMISSION_RULES, (
        f"{count} rules have an admission form, issue 17 asks for {MINIMUM_ADMISSION_RULES}"
    )


def test_generated_objects_match_the_kubernetes_schema(static: StaticSession) -> None:
    problems = []
    for name, text in generated().items():
        for doc in yaml.load_all(text, Loader=yaml.CSafeLoader):
            if doc:
                problems += [
                    f"{name} {doc['kind']}: {p}" for p in validate(doc, static.config.kube_version)
                ]
    assert not problems, "\n".join(problems)


def test_policy_names_fit_a_label_value() -> None:
    """The e2e proof labels each case's namespace with its policy's name."""
    long = [policy_name(r) for r in admission_rules(CATALOGUE) if len(policy_name(r)) > 63]
    assert not long, f"policy names longer than 63 characters: {long}"


def test_every_object_check_has_a_template_or_a_reason() -> None:
    """A workload or manifest check either has a CEL template, or WITHOUT_TEMPLATE says why
    not (docs/policies.md lists it); neither list names a check that does not exist."""
    checks = all_checks()
    object_checks = {name for name, spec in checks.items() if spec.scope in OBJECT_SCOPES}
    unexplained = sorted(object_checks - set(TEMPLATES) - set(WITHOUT_TEMPLATE))
    assert not unexplained, f"checks with neither a CEL template nor a reason: {unexplained}"
    unknown = sorted((set(TEMPLATES) | set(WITHOUT_TEMPLATE)) - object_checks)
    assert not unknown, f"templates or reasons for checks that do not exist: {unknown}"
    both = sorted(set(TEMPLATES) & set(WITHOUT_TEMPLATE))
    assert not both, f"checks with a template and a reason not to have one: {both}"


@pytest.fixture(scope="module")
def rules_claiming_too_much(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The rule files with images/pull-policy claiming an admission form (its check has no
    CEL template: the API server defaults imagePullPolicy before admission). Read-only."""
    rules = tmp_path_factory.mktemp("claiming") / "rules"
    shutil.copytree(RULES_DIR, rules)
    rule = rules / "images" / "pull-policy.yaml"
    rule.write_text(rule.read_text() + "admission: true\n")
    return rules


def test_the_generator_refuses_a_rule_it_cannot_produce(rules_claiming_too_much: Path) -> None:
    with pytest.raises(AdmissionError, match="check 'pull-policy' has no CEL template"):
        generate(load_catalogue(rules_claiming_too_much))


def test_the_command_refuses_it_with_one_line_and_exit_65(
    rules_claiming_too_much: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # `python -m policies.admission` is `sys.exit(main())`: called in the process (a second
    # interpreter would cost the tier half a second).
    code = admission_command(
        ["--rules", str(rules_claiming_too_much), "generate", "--out", str(tmp_path / "out")]
    )
    stderr = capsys.readouterr().err
    assert code == EX_DATAERR, stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and "pull-policy.yaml: admission: true, but check" in lines[0], lines
    assert not (tmp_path / "out").exists(), "nothing is written when a rule is refused"
