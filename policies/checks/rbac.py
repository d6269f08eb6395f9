"""RBAC: no wildcards, no binding of the built-in admin roles."""

from __future__ import annotations

from collections.abc import Iterator

from policies.model import Bundle, Violation, as_dict, as_list
from policies.registry import Params, check


@check("rbac-least-privilege", "manifests", forbidden_roles=["cluster-admin", "admin", "edit"])
def rbac_least_privilege(bundle: Bundle, params: Params) -> Iterator[Violation]:
    for role in bundle.of_kind("Role", "ClusterRole"):
        for index, rule in enumerate(as_list(role.get("rules"))):
            if not isinstance(rule, dict):
                continue
            wild = [f for f in ("apiGroups", "resources", "verbs") if "*" in as_list(rule.get(f))]
            if wild:
                yield role.violation(
                    f"rules[{index}] uses the wildcard '*' in {', '.join(wild)}",
                    path=("rules", index),
                    fix="list the exact apiGroups, resources and verbs the subject needs",
                )
    for binding in bundle.of_kind("RoleBinding", "ClusterRoleBinding"):
        role_ref = as_dict(binding.get("roleRef"))
        if (
            role_ref.get("kind") == "ClusterRole"
            and role_ref.get("name") in params["forbidden_roles"]
        ):
            yield binding.violation(
                f"binds the built-in ClusterRole {role_ref['name']}",
                path=("roleRef",),
                fix="bind a Role that grants only what the subject needs",
            )
