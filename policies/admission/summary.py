"""How many rules have an admission form, and why the others have none (docs/policies.md)."""

from __future__ import annotations

from policies.admission.manifests import admission_rules
from policies.admission.templates import TEMPLATES, WITHOUT_TEMPLATE
from policies.catalogue import Catalogue, Rule

NOT_AN_OBJECT = {
    "workflows": "judges GitHub workflow files, not API objects",
    "scripts": "judges shell scripts, not API objects",
    "dockerfile": "judges the Dockerfile, not API objects",
    "repo": "compares files of the repository",
}


def reason_without(rule: Rule) -> str:
    """Why the rule is enforced by the static tier only."""
    if rule.scope in NOT_AN_OBJECT:
        return NOT_AN_OBJECT[rule.scope]
    if rule.check.name in TEMPLATES:
        return "its check has a CEL template, but the rule does not set admission: true"
    return WITHOUT_TEMPLATE.get(rule.check.name, "its check has no CEL template")


def docs_section(catalogue: Catalogue) -> list[str]:
    """The 'Admission' section of docs/policies.md."""
    with_form = admission_rules(catalogue)
    without = [rule for rule in catalogue.rules if not rule.admission]
    lines = [
        "## Admission",
        "",
        f"{len(with_form)} rules have an admission form and {len(without)} do not. A rule with "
        "`admission: true` in its file is also a ValidatingAdmissionPolicy (CEL, no webhook) "
        "with its bindings in `deploy/admission/<id>.yaml`, generated from the same rule file "
        "by `make admission` (the static tier fails while the folder is stale) and installed "
        "by `scripts/install-admission.sh`. A namespace labelled "
        "`sre-platform.io/environment: <env>` is judged with the rule's severity in that "
        "environment: error denies, warning warns and audits, off does not bind. The e2e "
        "tier proves each policy gives the static verdict on every case of its rule: "
        "[docs/admission.md](admission.md).",
        "",
        "| without an admission form | why |",
        "|---|---|",
    ]
    for rule in without:
        lines.append(f"| `{rule.id}` | {reason_without(rule)} |")
    lines.append("")
    return lines
