"""No inline secrets (policies/checks/secrets.py) in CEL."""

from __future__ import annotations

from policies.admission.cel import WORKLOAD_KINDS
from policies.admission.template import Template, Validation, each_container, template
from policies.registry import Params

# policies/checks/secrets.py's two patterns (RE2 reads them the same way)
SECRET_NAME = "(?i)(PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|CREDENTIALS?)"  # noqa: S105
URL_PASSWORD = r"://[^/\s:@]+:[^@\s/]+@"  # noqa: S105


def _secretish(name: str, value: str) -> str:
    """CEL of policies/checks/secrets._secretish: a URL with an inline password (unless the
    password is a `$(VAR)` reference), or a secret-looking name with a literal value."""
    url = f"{value}.find(r'{URL_PASSWORD}')"
    password = f"{url}.substring({url}.indexOf(':', 3) + 1)"
    return (
        f"({value}.trim() != '' && (({value}.matches(r'{URL_PASSWORD}') && "
        f"!{password}.startsWith('$(')) || ({name}.matches(r'{SECRET_NAME}') && "
        f"!{value}.startsWith('$('))))"
    )


@template("no-inline-secrets")
def no_inline_secrets(params: Params) -> Template:
    env_clean = f"!has(c.env) || c.env.all(e, !has(e.value) || !{_secretish('e.name', 'e.value')})"
    containers = each_container(env_clean, "an env value holds a literal secret")
    data = "object.data"
    secret_keys = f"{data}.filter(k, {_secretish('k', f'{data}[k]')})"
    keys = f"(object.kind == 'ConfigMap' && has({data}) ? {secret_keys} : [])"
    config_map = Validation(
        f"size({keys}) == 0", "holds a literal secret value", keys, "x", "data key"
    )
    workload_only = Validation(
        f"object.kind == 'ConfigMap' || {containers.expression}",
        containers.problem,
        f"(object.kind == 'ConfigMap' ? [] : {containers.offenders})",
    )
    return Template((*WORKLOAD_KINDS, "ConfigMap"), (workload_only, config_map))
