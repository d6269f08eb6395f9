"""Pod Security Standards 'restricted' and the matching kube-linter/Polaris/checkov checks."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from policies.model import Bundle, Violation, as_dict, as_list
from policies.registry import REQUIRED, Params, check
from policies.workloads import Container, PodTemplate


def _effective(pod: PodTemplate, container: Container, field: str, pod_level: bool) -> Any:
    """A container securityContext field, falling back to the pod's when Kubernetes does."""
    if field in container.security:
        return container.security[field]
    if pod_level:
        return pod.security.get(field)
    return None


@check(
    "container-security-field",
    "workloads",
    field=REQUIRED,
    expect=REQUIRED,
    pod_level=False,
    absent_ok=False,
)
def container_security_field(
    pod: PodTemplate, bundle: Bundle, params: Params
) -> Iterator[Violation]:
    """`securityContext.<field>` must equal `expect` (set explicitly unless absent_ok)."""
    field, expect = params["field"], params["expect"]
    for container in pod.containers():
        value = _effective(pod, container, field, params["pod_level"])
        if value is None and params["absent_ok"]:
            continue
        if value != expect:
            wanted = str(expect).lower()
            actual = "" if value is None else f" (it is {str(value).lower()})"
            yield pod.violation(
                f"{field} is not {wanted}{actual}",
                container=container,
                field=("securityContext", field),
            )


@check("non-root-ids", "workloads", fields=["runAsUser", "runAsGroup"], min_id=1)
def non_root_ids(pod: PodTemplate, bundle: Bundle, params: Params) -> Iterator[Violation]:
    """UID/GID 0 is root even with runAsNonRoot unset; fsGroup 0 gives root group ownership."""
    fs_group = pod.security.get("fsGroup")
    if isinstance(fs_group, int) and fs_group < params["min_id"]:
        yield pod.violation(
            f"securityContext.fsGroup is {fs_group}", field=("securityContext", "fsGroup")
        )
    for container in pod.containers():
        for field in params["fields"]:
            value = _effective(pod, container, field, pod_level=True)
            if isinstance(value, int) and value < params["min_id"]:
                yield pod.violation(
                    f"securityContext.{field} is {value} (root)",
                    container=container,
                    field=("securityContext", field),
                )


@check("drop-capabilities", "workloads", allowed_add=["NET_BIND_SERVICE"])
def drop_capabilities(pod: PodTemplate, bundle: Bundle, params: Params) -> Iterator[Violation]:
    allowed = set(params["allowed_add"])
    for container in pod.containers():
        caps = as_dict(container.security.get("capabilities"))
        drop = {str(c).upper() for c in as_list(caps.get("drop"))}
        if "ALL" not in drop:
            yield pod.violation(
                "capabilities.drop does not contain ALL",
                container=container,
                field=("securityContext", "capabilities"),
            )
        added = sorted(
            {str(c).upper().removeprefix("CAP_") for c in as_list(caps.get("add"))} - allowed
        )
        if added:
            yield pod.violation(
                f"capabilities.add grants {', '.join(added)}",
                container=container,
                field=("securityContext", "capabilities", "add"),
                fix=(
                    "remove them from capabilities.add (allowed: "
                    f"{', '.join(sorted(allowed)) or 'none'})"
                ),
            )


@check("seccomp-profile", "workloads", allowed=["RuntimeDefault", "Localhost"])
def seccomp_profile(pod: PodTemplate, bundle: Bundle, params: Params) -> Iterator[Violation]:
    pod_type = as_dict(pod.security.get("seccompProfile")).get("type")
    for container in pod.containers():
        own = as_dict(container.security.get("seccompProfile")).get("type")
        effective = own or pod_type
        if effective not in params["allowed"]:
            shown = "not set" if effective is None else repr(effective)
            yield pod.violation(
                f"seccompProfile.type is {shown}, must be one of {', '.join(params['allowed'])}",
                container=container,
                field=("securityContext", "seccompProfile"),
            )


@check("host-namespaces", "workloads", fields=["hostNetwork", "hostPID", "hostIPC"])
def host_namespaces(pod: PodTemplate, bundle: Bundle, params: Params) -> Iterator[Violation]:
    for field in params["fields"]:
        if pod.spec.get(field) is True:
            yield pod.violation(
                f"{field} is true", field=(field,), fix=f"remove {field} (or set it to false)"
            )
    if pod.spec.get("hostUsers") is True and "hostUsers" in params["fields"]:
        yield pod.violation("hostUsers is true", field=("hostUsers",))


@check("volume-types", "workloads", allowed=REQUIRED)
def volume_types(pod: PodTemplate, bundle: Bundle, params: Params) -> Iterator[Violation]:
    allowed = set(params["allowed"])
    for index, volume in enumerate(as_list(pod.spec.get("volumes"))):
        if not isinstance(volume, dict):
            continue
        kinds = sorted(set(volume) - {"name"} - allowed)
        for kind in kinds:
            yield pod.violation(
                f'volume "{volume.get("name")}" is of type {kind}',
                field=("volumes", index),
                fix=f"use one of {', '.join(sorted(allowed))} instead of {kind}",
            )


@check("no-host-ports", "workloads")
def no_host_ports(pod: PodTemplate, bundle: Bundle, params: Params) -> Iterator[Violation]:
    for container in pod.containers():
        for index, port in enumerate(as_list(container.data.get("ports"))):
            if isinstance(port, dict) and port.get("hostPort"):
                yield pod.violation(
                    f"port {port.get('containerPort')} binds hostPort {port['hostPort']}",
                    container=container,
                    field=("ports", index, "hostPort"),
                )


@check("proc-mount-sysctls", "workloads", safe_sysctls=REQUIRED)
def proc_mount_sysctls(pod: PodTemplate, bundle: Bundle, params: Params) -> Iterator[Violation]:
    safe = set(params["safe_sysctls"])
    for index, sysctl in enumerate(as_list(pod.security.get("sysctls"))):
        name = sysctl.get("name") if isinstance(sysctl, dict) else None
        name = name if isinstance(name, str) else None
        if name not in safe:
            yield pod.violation(
                f"sysctl {name!r} is not in the safe set",
                field=("securityContext", "sysctls", index),
                fix="remove the sysctl or tune the node instead",
            )
    for container in pod.containers():
        mount = container.security.get("procMount")
        if mount not in (None, "Default"):
            yield pod.violation(
                f"procMount is {mount!r}",
                container=container,
                field=("securityContext", "procMount"),
                fix="remove procMount (Default masks /proc)",
            )


def _service_account_name(pod: PodTemplate) -> str:
    return str(pod.spec.get("serviceAccountName") or pod.spec.get("serviceAccount") or "default")


@check("service-account-token", "workloads")
def service_account_token(pod: PodTemplate, bundle: Bundle, params: Params) -> Iterator[Violation]:
    """Pod-level false wins; otherwise the ServiceAccount's own setting (if rendered) decides."""
    value = pod.spec.get("automountServiceAccountToken")
    if value is False:
        return
    if value is None:
        account = bundle.find("ServiceAccount", _service_account_name(pod))
        if account is not None and account.data.get("automountServiceAccountToken") is False:
            return
    yield pod.violation(
        "the service account token is mounted"
        + (
            " (automountServiceAccountToken is true)"
            if value
            else " (automountServiceAccountToken not set)"
        ),
        field=("automountServiceAccountToken",),
    )


@check("dedicated-service-account", "workloads")
def dedicated_service_account(
    pod: PodTemplate, bundle: Bundle, params: Params
) -> Iterator[Violation]:
    name = _service_account_name(pod)
    if name == "default":
        yield pod.violation(
            "runs as the namespace's default ServiceAccount", field=("serviceAccountName",)
        )
    elif bundle.values_files and bundle.find("ServiceAccount", name) is None:
        yield pod.violation(
            f'serviceAccountName "{name}" is not rendered by the chart',
            field=("serviceAccountName",),
            fix=f"render the ServiceAccount {name} (serviceAccount.create) or name an existing one",
        )
