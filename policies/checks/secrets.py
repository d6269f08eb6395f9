"""No secret values in pod environment variables or ConfigMaps."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from policies.model import Bundle, Violation, as_dict, as_list
from policies.registry import Params, check
from policies.workloads import pod_templates

SECRET_NAME = re.compile(
    r"(PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|CREDENTIALS?)", re.IGNORECASE
)


URL_PASSWORD = re.compile(r"://[^/\s:@]+:([^@\s/]+)@")


def _secretish(name: str, value: Any) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return None
    match = URL_PASSWORD.search(value)
    if match and not match.group(1).startswith("$("):
        return "contains a URL with an inline password"
    if SECRET_NAME.search(name) and not value.startswith("$("):
        return "holds a literal secret value"
    return None


@check("no-inline-secrets", "manifests")
def no_inline_secrets(bundle: Bundle, params: Params) -> Iterator[Violation]:
    for pod in pod_templates(bundle):
        for container in pod.containers():
            for index, env in enumerate(as_list(container.data.get("env"))):
                if not isinstance(env, dict) or "value" not in env:
                    continue
                problem = _secretish(str(env.get("name")), env.get("value"))
                if problem:
                    yield pod.violation(
                        f"env {env.get('name')} {problem}",
                        container=container,
                        field=("env", index, "value"),
                    )
    for config_map in bundle.of_kind("ConfigMap"):
        for key, value in as_dict(config_map.get("data")).items():
            problem = _secretish(str(key), value)
            if problem:
                yield config_map.violation(f"data key {key} {problem}", path=("data", key))
