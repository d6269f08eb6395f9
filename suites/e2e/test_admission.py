"""Admission gives the static tier's verdict (issue 17): the same rule files, two enforcers.

Given deploy/admission/ as `python -m policies.admission generate` writes it (checked
current first) installed on the cluster, each policy bound to namespaces of its own,
when every pass and fail case of every rule with `admission: true` is created with a
server-side dry run in a namespace labelled for the case's environment,
then the API server's answer is the static tier's verdict on the same case: refused
(Deny) where the rule is an error there, admitted with a warning (Warn) where it is a
warning, admitted where it finds nothing; every denial and warning carries the rule's id and
its fix. A case whose verdicts differ fails and names both.

The bindings of the proof are the generated ones with two changes, so that a case is judged
by its own rule only (a denial names only the first policy that refuses): they select the
label `e2e.sre-platform.io/environment` instead of `sre-platform.io/environment`, plus
`e2e.sre-platform.io/admission-rule: <policy>`. The last test uses the generated bindings
as they are: a bad Rollout in a production-labelled namespace is refused.

How a case becomes API objects (explicit, in the report of a failing case):
- each case gets a namespace of its own; objects naming another namespace (`production`)
  are created there instead (no rule with an admission form reads the namespace's name);
- cases are minimal manifests; what the API server requires and the rule does not look at
  is filled in (`creatable`: apps/v1 selectors from the template labels, a Job's
  restartPolicy, a CronJob's schedule) and the static tier judges the completed case again:
  a completion that changed the static verdict fails the case;
- objects of a kind the rule's policy does not match are not sent, except objects of its
  param kind (ServiceAccounts of pod-security/service-account-token), which are created for
  real in the case's namespace first: they are what the policy reads;
- an object the API server refuses before admission (schema validation, an unserved kind) is
  a failure, unless `REFUSED_BEFORE_ADMISSION` names the case and the refusal, and the case
  is a fail case: then the cluster refuses it as the rule would, but not with our message.
"""

from __future__ import annotations

import copy
import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import yaml

from fixtures.admission import Answer, Installed, dry_run, send
from fixtures.cluster import Cluster
from fixtures.core.helm import RenderRequest, helm_template
from fixtures.core.kube import wait_until
from fixtures.core.tools import REPO_ROOT
from policies.admission.manifests import (
    ENVIRONMENT_LABEL,
    admission_rules,
    generate,
    policy_name,
    template_for,
)
from policies.admission.output import DEPLOY_DIR, differences
from policies.casefiles import Case, build, find_cases, sample_facts
from policies.catalogue import Rule, load_catalogue
from policies.engine import Finding, evaluate
from policies.model import Bundle, Obj, Severity
from policies.sources import Repo

# One worker under pytest-xdist: module fixtures install cluster-wide policies of fixed names;
# the API server alone is used, so they run beside the serial tests (docs/e2e.md).
pytestmark = [pytest.mark.xdist_group("admission"), pytest.mark.api_only]

CATALOGUE = load_catalogue()
RULES = admission_rules(CATALOGUE)
CASES = [case for rule in RULES for case in find_cases(rule)]
E2E_ENV_LABEL = "e2e.sre-platform.io/environment"
RULE_LABEL = "e2e.sre-platform.io/admission-rule"
E2E_LABEL = "sre-platform.io/e2e"
# A policy with params (the namespace's ServiceAccounts) reads them from an informer: give it
# time to see the default account and the case's own before the dry runs.
SETTLE_SECONDS = 2.0

# case -> what the API server's own refusal says (the case is refused before admission)
REFUSED_BEFORE_ADMISSION: dict[str, str] = {
    # core/v1 validation: a preStop sleep must be shorter than the grace period (the rule's
    # own point); fail-rollout-longer-than-grace.yaml meets the policy
    "probes/graceful-shutdown/fail-longer-than-grace.yaml": "less than "
    "terminationGracePeriodSeconds",
    # the Rollout CRD's schema keeps env as a list-map keyed by name; a Deployment's duplicate
    # is admitted with a warning and meets the policy (fail-deployment.yaml)
    "workload/no-duplicate-env/fail.yaml": 'Duplicate value: {"name":',
}

Verdict = str  # "error" (refused), "warning" (admitted, warned), "pass" (admitted)


def static_verdict(findings: list[Finding]) -> Verdict:
    severities = {f.severity for f in findings}
    if Severity.ERROR in severities:
        return "error"
    return "warning" if Severity.WARNING in severities else "pass"


# ---- a case as API objects ---------------------------------------------------------------

APPS_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet")


def _pod_spec(kind: Any, spec: dict[str, Any]) -> dict[str, Any] | None:
    if kind == "Pod":
        return spec
    holder = ((spec.get("jobTemplate") or {}).get("spec") or {}) if kind == "CronJob" else spec
    pod = (holder.get("template") or {}).get("spec")
    return pod if isinstance(pod, dict) else None


def creatable(doc: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The object with what the API server requires and the case leaves out; what was added."""
    doc = copy.deepcopy(doc)
    added: list[str] = []
    kind, spec = doc.get("kind"), doc.get("spec")
    if not isinstance(spec, dict):
        return doc, added
    name = str((doc.get("metadata") or {}).get("name") or "case")
    if kind in APPS_KINDS and isinstance(spec.get("template"), dict):
        meta = spec["template"].setdefault("metadata", {})
        if not meta.get("labels"):
            meta["labels"] = {"app": name}
            added.append("spec.template.metadata.labels")
        if not spec.get("selector"):
            spec["selector"] = {"matchLabels": dict(meta["labels"])}
            added.append("spec.selector")
    if kind == "CronJob" and not spec.get("schedule"):
        spec["schedule"] = "@hourly"
        added.append("spec.schedule")
    pod = _pod_spec(kind, spec)
    if pod is not None and kind in ("Job", "CronJob") and not pod.get("restartPolicy"):
        pod["restartPolicy"] = "Never"
        added.append("restartPolicy")
    if pod is not None and "hostUsers" not in pod and _unmasked(pod):
        pod["hostUsers"] = False  # the API server allows procMount Unmasked only so
        added.append("hostUsers: false")
    return doc, added


def _unmasked(pod_spec: dict[str, Any]) -> bool:
    containers = [*(pod_spec.get("initContainers") or []), *(pod_spec.get("containers") or [])]
    return any(
        ((c or {}).get("securityContext") or {}).get("procMount") == "Unmasked" for c in containers
    )


def case_objects(case: Case) -> list[dict[str, Any]]:
    return [obj.data for bundle in build(case).bundles for obj in bundle.objects]


def judged_again(case: Case, docs: list[dict[str, Any]]) -> Verdict:
    """The static verdict on the completed objects (the case's environment and header)."""
    env = case.meta.get("env")
    namespace = case.meta.get("namespace", env)
    objects = [Obj(d, str(case.path), i, default_namespace=namespace) for i, d in enumerate(docs)]
    values_files = ("case",) if case.meta.get("rendered") else ()
    facts = sample_facts()
    bundle = Bundle(
        f"case {case.path.name}", objects, env=env, facts=facts, values_files=values_files
    )
    return static_verdict(evaluate(case.rule, Repo(root=".", bundles=[bundle], facts=facts)))


# ---- the cluster side --------------------------------------------------------------------


def generated() -> dict[str, list[dict[str, Any]]]:
    """rule id -> its policy and bindings, from deploy/admission/ (checked current)."""
    wanted = generate(CATALOGUE)
    stale = differences(DEPLOY_DIR, wanted)
    assert not stale, f"deploy/admission/ is stale ({'; '.join(stale)}): run `make admission`"
    return {
        name.removesuffix(".yaml"): [d for d in yaml.safe_load_all(text) if d]
        for name, text in wanted.items()
    }


def proof_binding(binding: dict[str, Any]) -> dict[str, Any]:
    """The generated binding, selecting the e2e environment label and the rule's own label."""
    binding = copy.deepcopy(binding)
    binding["metadata"]["name"] += ".e2e"
    selector = binding["spec"]["matchResources"]["namespaceSelector"]
    for expression in selector["matchExpressions"]:
        assert expression["key"] == ENVIRONMENT_LABEL, expression
        expression["key"] = E2E_ENV_LABEL
    selector["matchExpressions"].append(
        {"key": RULE_LABEL, "operator": "In", "values": [binding["spec"]["policyName"]]}
    )
    return binding


def make_namespace(cluster: Cluster, prefix: str, labels: dict[str, str]) -> str:
    name = f"{prefix}-{uuid.uuid4().hex[:6]}"
    manifest = {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": name, "labels": labels},
    }
    cluster.kubectl("apply", "-f", "-", input=json.dumps(manifest))

    def default_account() -> str | None:
        found = cluster.kubectl("get", "serviceaccount", "default", "-n", name, check=False)
        return None if found.returncode == 0 else "missing"

    # Pods need it, and so does a policy whose params are the namespace's ServiceAccounts.
    wait_until(default_account, f"namespace {name}'s default ServiceAccount to exist", 30)
    return name


@pytest.fixture(scope="module")
def documents() -> dict[str, list[dict[str, Any]]]:
    return generated()


PROBE = "sre-platform.e2e.admission-probe"
PROBE_LABEL = "e2e.sre-platform.io/admission-probe"
ADMISSION_API = "admissionregistration.k8s.io/v1"


def probe_policy() -> dict[str, Any]:
    """A policy refusing every Pod of the namespaces its bindings select."""
    pods = {
        "apiGroups": [""],
        "apiVersions": ["v1"],
        "operations": ["CREATE"],
        "resources": ["pods"],
    }
    return {
        "apiVersion": ADMISSION_API,
        "kind": "ValidatingAdmissionPolicy",
        "metadata": {"name": PROBE, "labels": {E2E_LABEL: "true"}},
        "spec": {
            "matchConstraints": {"resourceRules": [pods]},
            "validations": [{"expression": "false", "message": "the e2e probe refuses"}],
        },
    }


def probe_binding(phase: str) -> dict[str, Any]:
    """The probe policy bound to namespaces labelled PROBE_LABEL=<phase>."""
    return {
        "apiVersion": ADMISSION_API,
        "kind": "ValidatingAdmissionPolicyBinding",
        "metadata": {"name": f"{PROBE}.{phase}", "labels": {E2E_LABEL: "true"}},
        "spec": {
            "policyName": PROBE,
            "validationActions": ["Deny"],
            "matchResources": {"namespaceSelector": {"matchLabels": {PROBE_LABEL: phase}}},
        },
    }


def wait_until_enforced(cluster: Cluster, phase: str) -> None:
    """The API server compiles policies and bindings asynchronously, in the order its
    informers deliver them: once the probe binding applied last refuses, so do the others."""
    namespace = make_namespace(cluster, "adm-probe", {PROBE_LABEL: phase, E2E_LABEL: "true"})
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "probe"},
        "spec": {"containers": [{"name": "app", "image": "web:1.0.0"}]},
    }
    try:
        wait_until(
            lambda: None if dry_run(cluster.api, pod, namespace).denied_by(PROBE) else "admitted",
            f"the API server to enforce the bindings just applied (probe {PROBE}.{phase})",
            60,
        )
    finally:
        cluster.kubectl("delete", "namespace", namespace, "--wait=false", check=False)


@pytest.fixture(scope="module")
def policies(cluster: Cluster, documents: dict[str, list[dict[str, Any]]]) -> Iterator[Installed]:
    """Every generated policy, and each policy's proof bindings; removed afterwards (what
    existed before, e.g. from `make lab-deploy`, is left)."""
    installed = Installed(cluster)
    docs = [d for objects in documents.values() for d in objects]
    policies_ = [d for d in docs if d["kind"] == "ValidatingAdmissionPolicy"]
    bindings = [proof_binding(d) for d in docs if d["kind"] == "ValidatingAdmissionPolicyBinding"]
    try:
        installed.apply([*policies_, probe_policy()])
        installed.apply([*bindings, probe_binding("proof")])
        wait_until_enforced(cluster, "proof")
        yield installed
    finally:
        installed.remove()


# ---- the proof ----------------------------------------------------------------------------


@dataclass
class Judgement:
    verdict: Verdict
    notes: list[str]


def admission_verdict(rule: Rule, answers: list[tuple[str, Answer]]) -> Judgement:
    """The policy's verdict over the case's objects; fails on a message without the rule's
    id and fix, or a refusal by anything else."""
    name = policy_name(rule)
    notes: list[str] = []
    verdict = "pass"
    for ref, answer in answers:
        others = [d for d in answer.denials if d.policy != name]
        assert not others, f"{ref}: refused by another policy: {others}"
        denied, warned = answer.denied_by(name), answer.warned_by(name)
        for message in denied + warned:
            assert f"[{rule.id}]" in message and rule.remediation in message, (
                f"{ref}: the message lacks the rule id [{rule.id}] or its fix "
                f"{rule.remediation!r}: {message}"
            )
        if denied:
            verdict = "error"
            notes.append(f"{ref}: denied: {denied[0]}")
        elif warned:
            verdict = "warning" if verdict == "pass" else verdict
            notes.append(f"{ref}: warned: {warned[0]}")
        else:
            notes.append(f"{ref}: admitted")
    return Judgement(verdict, notes)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_admission_gives_the_static_verdict(
    case: Case, cluster: Cluster, policies: Installed
) -> None:
    rule = case.rule
    original = case_objects(case)
    static = static_verdict(evaluate(rule, build(case)))
    completed, added = [], []
    for doc in original:
        done, what = creatable(doc)
        completed.append(done)
        added += [f"{doc.get('kind')}/{(doc.get('metadata') or {}).get('name')}: {w}" for w in what]
    if added:
        again = judged_again(case, completed)
        assert again == static, (
            f"completing the case for the API server ({'; '.join(added)}) changed its static "
            f"verdict from {static} to {again}"
        )
    tmpl = template_for(rule)
    judged = [d for d in completed if d.get("kind") in tmpl.kinds]
    context = [d for d in completed if tmpl.param_kind and d.get("kind") == tmpl.param_kind]
    unsent = [
        f"{d.get('kind')}/{(d.get('metadata') or {}).get('name')}: not sent (the policy does not "
        "match its kind)"
        for d in completed
        if d not in judged and d not in context
    ]
    assert judged, f"{case.name}: no object of a kind the policy matches ({', '.join(tmpl.kinds)})"
    env = case.meta.get("env")
    labels = {E2E_ENV_LABEL: env or "", RULE_LABEL: policy_name(rule), E2E_LABEL: "true"}
    namespace = make_namespace(cluster, "adm-case", labels)
    try:
        for doc in context:
            body = copy.deepcopy(doc)
            body["metadata"]["namespace"] = namespace
            response = send(
                cluster.api, "POST", f"/api/v1/namespaces/{namespace}/serviceaccounts", body
            )
            assert 200 <= response.status < 300, (
                f"creating {doc['metadata']['name']}: {response.data!r}"
            )
        if tmpl.param_kind:
            time.sleep(SETTLE_SECONDS)
        answers = [
            (f"{d['kind']}/{d['metadata']['name']}", dry_run(cluster.api, d, namespace))
            for d in judged
        ]
    finally:
        cluster.kubectl("delete", "namespace", namespace, "--wait=false", check=False)
    refused = [(ref, a.refusal) for ref, a in answers if a.refusal]
    if refused:
        expected = REFUSED_BEFORE_ADMISSION.get(case.name)
        shown = "; ".join(f"{ref}: {why}" for ref, why in refused)
        assert expected is not None, (
            f"the API server refuses the case before admission ({shown}): it cannot be judged "
            f"there; the static verdict is {static}"
        )
        assert all(expected in str(why) for _, why in refused), f"expected {expected!r}: {shown}"
        assert static != "pass", f"a passing case is refused by the API server: {shown}"
        return
    judgement = admission_verdict(rule, answers)
    judgement.notes += unsent
    if added:
        judgement.notes.append(f"completed for the API server: {'; '.join(added)}")
    where = f"environment {env or '(none: the rule default)'}"
    assert judgement.verdict == static, (
        f"{case.name} in {where}: admission says {judgement.verdict}, the static tier says "
        f"{static}\n  " + "\n  ".join(judgement.notes)
    )


def test_every_rule_meets_its_policy_both_ways() -> None:
    """Each rule has a pass case and a fail case that reach its policy (not refused before)."""
    lacking = []
    for rule in RULES:
        reaching = [c for c in find_cases(rule) if c.name not in REFUSED_BEFORE_ADMISSION]
        if not any(c.passing for c in reaching) or all(c.passing for c in reaching):
            lacking.append(rule.id)
    assert not lacking, f"rules without a pass and a fail case their policy judges: {lacking}"
    assert set(REFUSED_BEFORE_ADMISSION) <= {c.name for c in CASES}, "a stale entry"


# ---- the generated bindings, as they are ---------------------------------------------------

BAD_ROLLOUT_RULES = ("pod-security/non-root-ids", "images/explicit-tag", "resources/limits")


@pytest.fixture(scope="module")
def production_rollout() -> dict[str, Any]:
    """The Rollout the chart renders for production: it passes every rule there."""
    output = helm_template(
        RenderRequest(
            chart=REPO_ROOT / "helm",
            release="sre-platform",
            namespace="production",
            values=(REPO_ROOT / "helm" / "values-production.yaml",),
        )
    )
    rollouts = [d for d in yaml.safe_load_all(output) if d and d.get("kind") == "Rollout"]
    assert len(rollouts) == 1, (
        f"the production rendering to hold one Rollout, holds {len(rollouts)}"
    )
    rollout: dict[str, Any] = rollouts[0]
    rollout["metadata"].pop("namespace", None)
    return rollout


def _break(rollout: dict[str, Any], rule_id: str) -> dict[str, Any]:
    """The Rollout with the one problem the rule names: root user, `latest` tag, no CPU and
    memory limits."""
    broken = copy.deepcopy(rollout)
    container = broken["spec"]["template"]["spec"]["containers"][0]
    if rule_id == "pod-security/non-root-ids":
        container.setdefault("securityContext", {})["runAsUser"] = 0
    elif rule_id == "images/explicit-tag":
        container["image"] = container["image"].split("@")[0].rsplit(":", 1)[0] + ":latest"
    elif rule_id == "resources/limits":  # ephemeral-storage stays: another rule's
        limits = container.setdefault("resources", {}).setdefault("limits", {})
        for resource in ("cpu", "memory"):
            limits.pop(resource, None)
    return broken


@pytest.fixture(scope="module")
def production_namespace(
    cluster: Cluster, documents: dict[str, list[dict[str, Any]]], policies: Installed
) -> Iterator[str]:
    """A namespace labelled sre-platform.io/environment: production, with the generated
    bindings as deploy/admission/ holds them."""
    bindings = [
        d
        for objects in documents.values()
        for d in objects
        if d["kind"] == "ValidatingAdmissionPolicyBinding"
    ]
    installed = Installed(cluster)
    namespace = make_namespace(
        cluster, "adm-production", {ENVIRONMENT_LABEL: "production", E2E_LABEL: "true"}
    )
    try:
        installed.apply([*bindings, probe_binding("generated")])
        wait_until_enforced(cluster, "generated")
        yield namespace
    finally:
        installed.remove()
        cluster.kubectl("delete", "namespace", namespace, "--wait=false", check=False)


def test_the_production_rollout_is_admitted(
    cluster: Cluster, production_namespace: str, production_rollout: dict[str, Any]
) -> None:
    answer = dry_run(cluster.api, production_rollout, production_namespace)
    assert answer.refusal is None and not answer.denials and not answer.warnings, answer


@pytest.mark.parametrize("rule_id", BAD_ROLLOUT_RULES)
def test_a_rollout_breaking_one_rule_is_refused_in_production(
    rule_id: str, cluster: Cluster, production_namespace: str, production_rollout: dict[str, Any]
) -> None:
    rule = CATALOGUE.get(rule_id)
    answer = dry_run(cluster.api, _break(production_rollout, rule_id), production_namespace)
    assert answer.denials, f"the Rollout breaking {rule_id} to be refused, was admitted: {answer}"
    assert [d.policy for d in answer.denials] == [policy_name(rule)], answer.denials
    message = answer.denials[0].message
    assert f"[{rule_id}]" in message and rule.remediation in message, message


def test_applying_a_bad_rollout_to_production_is_refused(
    cluster: Cluster, production_namespace: str, production_rollout: dict[str, Any]
) -> None:
    """kubectl apply of a Rollout running as root, on `latest`, without limits."""
    rollout = production_rollout
    for rule_id in BAD_ROLLOUT_RULES:
        rollout = _break(rollout, rule_id)
    result = cluster.kubectl(
        "apply", "-n", production_namespace, "-f", "-", input=json.dumps(rollout), check=False
    )
    assert result.returncode != 0, f"kubectl apply of the bad Rollout succeeded: {result.stdout}"
    refusing = [
        r
        for r in BAD_ROLLOUT_RULES
        if f"[{r}]" in result.stderr and CATALOGUE.get(r).remediation in result.stderr
    ]
    assert refusing, f"the refusal to name one of {BAD_ROLLOUT_RULES} and its fix: {result.stderr}"
    stored = cluster.kubectl(
        "get", "rollout", rollout["metadata"]["name"], "-n", production_namespace, check=False
    )
    assert stored.returncode != 0, "the refused Rollout exists"
