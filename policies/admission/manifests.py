"""A rule with `admission: true` -> one ValidatingAdmissionPolicy and its bindings.

Bindings select namespaces by the label `sre-platform.io/environment` (the environment's
name, set by ArgoCD's managedNamespaceMetadata: docs/admission.md). The rule's severity in
that environment picks the binding's actions: error -> Deny, warning -> Warn + Audit,
off -> no binding. A namespace without the label is never judged; a label value no rule
names gets each rule's default severity.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import yaml

from policies.admission import cel
from policies.admission.templates import TEMPLATES, Template
from policies.catalogue import Catalogue, Rule
from policies.errors import CatalogueError
from policies.model import Severity

API_VERSION = "admissionregistration.k8s.io/v1"
ENVIRONMENT_LABEL = "sre-platform.io/environment"
RULE_ANNOTATION = "sre-platform.io/rule"
LABELS = {"app.kubernetes.io/part-of": "sre-platform", "app.kubernetes.io/component": "admission"}
SELECTOR = ",".join(f"{k}={v}" for k, v in LABELS.items())
ACTIONS = {Severity.ERROR: ["Deny"], Severity.WARNING: ["Warn", "Audit"]}
BINDING_SUFFIX = {Severity.ERROR: "deny", Severity.WARNING: "warn"}


class AdmissionError(CatalogueError):
    """A rule claims an admission form the generator cannot produce (exit 65)."""


def policy_name(rule: Rule) -> str:
    return "sre-platform." + rule.id.replace("/", ".")


def template_for(rule: Rule) -> Template:
    """The rule's check's CEL template filled with its params; AdmissionError when none."""
    fn = TEMPLATES.get(rule.check.name)
    if fn is None:
        raise AdmissionError(
            f"{rule.file}: admission: true, but check {rule.check.name!r} has no CEL template "
            "in policies/admission/templates/ (add one, or remove the key)"
        )
    return fn(rule.params)


def _validations(rule: Rule, tmpl: Template) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """(variables, validations): each test with the rule's finding text, `[id] subject:
    problem. Fix: remediation`; a test over containers (volumes, data keys) keeps what fails
    in a variable `failing<N>`, so the denial names them."""
    variables = [{"name": "subject", "expression": cel.SUBJECT}]
    validations = []
    fix = f". Fix: {rule.remediation}"
    for index, validation in enumerate(tmpl.validations, start=1):
        who = "variables.subject"
        expression = validation.expression
        if validation.offenders is not None:
            failing = f"failing{index}"
            variables.append({"name": failing, "expression": validation.offenders})
            expression = f"size(variables.{failing}) == 0"
            names = f"variables.{failing}.map(x, {validation.names})"
            noun = validation.noun
            who += (
                f" + (size(variables.{failing}) == 1 ? ' {noun} \"' : ' {noun}s \"') + "
                f"{names}.join('\", \"') + '\"'"
            )
        validations.append(
            {
                "expression": expression,
                "message": f"[{rule.id}] {rule.title}: {validation.problem}{fix}",
                "messageExpression": f"{cel.text(f'[{rule.id}] ')} + {who} + "
                f"{cel.text(': ' + validation.problem + fix)}",
            }
        )
    return variables, validations


def policy(rule: Rule) -> dict[str, Any]:
    tmpl = template_for(rule)
    spec: dict[str, Any] = {
        "failurePolicy": "Fail",
        "matchConstraints": {"resourceRules": cel.resource_rules(tmpl.kinds)},
        "matchConditions": [cel.SPEC_CHANGED] + ([cel.HAS_TEMPLATE] if tmpl.pod_template else []),
    }
    if tmpl.param_kind:
        kind = cel.KINDS[tmpl.param_kind]
        spec["paramKind"] = {"apiVersion": kind.api_version, "kind": kind.kind}
    variables, validations = _validations(rule, tmpl)
    spec["variables"] = (cel.WORKLOAD_VARIABLES if tmpl.pod_template else []) + variables
    spec["validations"] = validations
    return {
        "apiVersion": API_VERSION,
        "kind": "ValidatingAdmissionPolicy",
        "metadata": {
            "name": policy_name(rule),
            "labels": dict(LABELS),
            "annotations": {RULE_ANNOTATION: rule.id},
        },
        "spec": spec,
    }


def _selectors(rule: Rule) -> list[tuple[Severity, list[dict[str, Any]]]]:
    """(severity, namespaceSelector.matchExpressions) for each severity the rule has."""
    listed = sorted(rule.environments)
    out: list[tuple[Severity, list[dict[str, Any]]]] = []
    default: list[dict[str, Any]] = [{"key": ENVIRONMENT_LABEL, "operator": "Exists"}]
    if listed:
        default.append({"key": ENVIRONMENT_LABEL, "operator": "NotIn", "values": listed})
    out.append((rule.severity, default))
    for severity in (Severity.ERROR, Severity.WARNING, Severity.OFF):
        envs = [env for env in listed if rule.environments[env] is severity]
        if envs:
            out.append((severity, [{"key": ENVIRONMENT_LABEL, "operator": "In", "values": envs}]))
    return out


def bindings(rule: Rule) -> list[dict[str, Any]]:
    """One binding per severity other than off; environments of equal severity share it."""
    tmpl = template_for(rule)
    merged: dict[Severity, list[list[dict[str, Any]]]] = {}
    for severity, expressions in _selectors(rule):
        if severity is not Severity.OFF:
            merged.setdefault(severity, []).append(expressions)
    out = []
    for severity in (Severity.ERROR, Severity.WARNING):
        for index, expressions in enumerate(merged.get(severity, [])):
            suffix = BINDING_SUFFIX[severity] + (f"-{index + 1}" if index else "")
            spec: dict[str, Any] = {
                "policyName": policy_name(rule),
                "validationActions": ACTIONS[severity],
                "matchResources": {"namespaceSelector": {"matchExpressions": expressions}},
            }
            if tmpl.param_kind:
                # every object of the param kind in the admitted object's namespace
                spec["paramRef"] = {"selector": {}, "parameterNotFoundAction": "Deny"}
            out.append(
                {
                    "apiVersion": API_VERSION,
                    "kind": "ValidatingAdmissionPolicyBinding",
                    "metadata": {
                        "name": f"{policy_name(rule)}.{suffix}",
                        "labels": dict(LABELS),
                        "annotations": {RULE_ANNOTATION: rule.id},
                    },
                    "spec": spec,
                }
            )
    return out


def admission_rules(catalogue: Catalogue) -> list[Rule]:
    return [rule for rule in catalogue.rules if rule.admission]


def render(rule: Rule) -> str:
    """The rule's file in deploy/admission/: its policy and bindings."""
    header = (
        f"# Generated by `python -m policies.admission generate` from policies/rules/{rule.id}"
        ".yaml; do not edit.\n"
        f"# [{rule.id}] {rule.title}\n"
    )
    return header + _dump([policy(rule), *bindings(rule)])


# libyaml's emitter: the same text as PyYAML's own (the staleness test compares it with
# deploy/admission/), about four times faster.
_BaseDumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


class _Dumper(_BaseDumper):  # type: ignore[misc,valid-type]
    """CEL as literal blocks: no YAML quoting inside the expressions."""


def _str(dumper: yaml.representer.SafeRepresenter, value: str) -> yaml.Node:
    block = any(c in value for c in "'\"") or len(value) > 80
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|" if block else None)


_Dumper.add_representer(str, _str)


def _dump(docs: Iterable[dict[str, Any]]) -> str:
    return "---\n" + "---\n".join(
        yaml.dump(doc, Dumper=_Dumper, sort_keys=False, width=10_000, allow_unicode=True)
        for doc in docs
    )


def generate(catalogue: Catalogue) -> dict[str, str]:
    """deploy/admission/'s files: `<rule id>.yaml` -> text, for every rule with `admission:
    true`; AdmissionError for the first rule whose check has no template."""
    return {f"{rule.id}.yaml": render(rule) for rule in admission_rules(catalogue)}
