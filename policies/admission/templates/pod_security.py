"""Pod Security Standards 'restricted' (policies/checks/pod_security.py) in CEL."""

from __future__ import annotations

from policies.admission.cel import SPEC, WORKLOAD_KINDS, all_of, has, literal
from policies.admission.template import Template, Validation, each_container, template
from policies.registry import Params

# Every volume source of the Kubernetes 1.34 API (core/v1 Volume, without `name`).
VOLUME_SOURCES = (
    *("awsElasticBlockStore", "azureDisk", "azureFile", "cephfs", "cinder", "configMap", "csi"),
    *("downwardAPI", "emptyDir", "ephemeral", "fc", "flexVolume", "flocker", "gcePersistentDisk"),
    *("gitRepo", "glusterfs", "hostPath", "image", "iscsi", "nfs", "persistentVolumeClaim"),
    *("photonPersistentDisk", "portworxVolume", "projected", "quobyte", "rbd", "scaleIO"),
    *("secret", "storageos", "vsphereVolume"),
)


def _effective(name: str, pod_level: bool, test: str, absent: str) -> str:
    """CEL: `test` on the container's securityContext.<name>, else on the pod's when
    Kubernetes falls back to it, else `absent` (policies/checks/pod_security._effective)."""
    own = f"c.securityContext.{name}"
    pod = f"{SPEC}.securityContext.{name}"
    fallback = absent
    if pod_level:
        fallback = f"({has(SPEC, 'securityContext', name)} ? {test.format(pod)} : {absent})"
    return f"({has('c', 'securityContext', name)} ? {test.format(own)} : {fallback})"


@template("container-security-field")
def container_security_field(params: Params) -> Template:
    name, expect = params["field"], params["expect"]
    passes = _effective(
        name, params["pod_level"], "{} == " + literal(expect), literal(params["absent_ok"])
    )
    problem = f"{name} is not {str(expect).lower()}"
    return Template(WORKLOAD_KINDS, (each_container(passes, problem),))


@template("non-root-ids")
def non_root_ids(params: Params) -> Template:
    low = literal(params["min_id"])
    fs_group = Validation(
        f"!({has(SPEC, 'securityContext', 'fsGroup')}) || {SPEC}.securityContext.fsGroup >= {low}",
        f"securityContext.fsGroup is below {params['min_id']} (root)",
    )
    ids = all_of(_effective(f, True, "{} >= " + low, "true") for f in params["fields"])
    problem = f"securityContext.{' or '.join(params['fields'])} is below {params['min_id']} (root)"
    return Template(WORKLOAD_KINDS, (fs_group, each_container(ids, problem)))


def _capability(value: str) -> str:
    upper = f"{value}.upperAscii()"
    return f"({upper}.startsWith('CAP_') ? {upper}.substring(4) : {upper})"


@template("drop-capabilities")
def drop_capabilities(params: Params) -> Template:
    caps = "c.securityContext.capabilities"
    drops_all = (
        f"{has('c', 'securityContext', 'capabilities', 'drop')} && "
        f"{caps}.drop.exists(d, d.upperAscii() == 'ALL')"
    )
    allowed = literal(list(params["allowed_add"]))
    adds_allowed = (
        f"!({has('c', 'securityContext', 'capabilities', 'add')}) || "
        f"{caps}.add.all(a, {_capability('a')} in {allowed})"
    )
    granted = ", ".join(params["allowed_add"]) or "nothing"
    return Template(
        WORKLOAD_KINDS,
        (
            each_container(drops_all, "capabilities.drop does not contain ALL"),
            each_container(adds_allowed, f"capabilities.add grants more than {granted}"),
        ),
    )


@template("seccomp-profile")
def seccomp_profile(params: Params) -> Template:
    own = "c.securityContext.seccompProfile.type"
    pod = f"{SPEC}.securityContext.seccompProfile.type"
    effective = (
        f"({has('c', 'securityContext', 'seccompProfile', 'type')} && {own} != '' ? {own} : "
        f"({has(SPEC, 'securityContext', 'seccompProfile', 'type')} ? {pod} : ''))"
    )
    allowed = list(params["allowed"])
    problem = f"seccompProfile.type is not one of {', '.join(allowed)}"
    return Template(
        WORKLOAD_KINDS, (each_container(f"{effective} in {literal(allowed)}", problem),)
    )


@template("host-namespaces")
def host_namespaces(params: Params) -> Template:
    fields = list(params["fields"])
    passes = all_of(f"!has({SPEC}.{f}) || {SPEC}.{f} != true" for f in fields)
    return Template(WORKLOAD_KINDS, (Validation(passes, f"{' or '.join(fields)} is true"),))


@template("volume-types")
def volume_types(params: Params) -> Template:
    forbidden = [v for v in VOLUME_SOURCES if v not in set(params["allowed"])]
    allowed = all_of(f"!has(v.{kind})" for kind in forbidden)
    offenders = f"(has({SPEC}.volumes) ? {SPEC}.volumes.filter(v, !({allowed})) : [])"
    problem = f"is of a type outside {', '.join(sorted(params['allowed']))}"
    return Template(
        WORKLOAD_KINDS,
        (Validation(f"size({offenders}) == 0", problem, offenders, "x.name", "volume"),),
    )


@template("no-host-ports")
def no_host_ports(params: Params) -> Template:
    passes = "!has(c.ports) || c.ports.all(p, !has(p.hostPort) || p.hostPort == 0)"
    return Template(WORKLOAD_KINDS, (each_container(passes, "a port binds a hostPort"),))


@template("proc-mount-sysctls")
def proc_mount_sysctls(params: Params) -> Template:
    safe = literal(list(params["safe_sysctls"]))
    sysctls = Validation(
        f"!({has(SPEC, 'securityContext', 'sysctls')}) || "
        f"{SPEC}.securityContext.sysctls.all(s, s.name in {safe})",
        "a sysctl is not in the safe set",
    )
    proc_mount = (
        f"!({has('c', 'securityContext', 'procMount')}) || c.securityContext.procMount == 'Default'"
    )
    return Template(
        WORKLOAD_KINDS, (sysctls, each_container(proc_mount, "procMount is not Default"))
    )


@template("service-account-token")
def service_account_token(params: Params) -> Template:
    """Pod-level false wins; unset, the ServiceAccount's own setting decides. The policy's
    params are the namespace's ServiceAccounts, each judged in turn (all must admit): only
    the pod's own account can refuse."""
    account = (
        f"({has(SPEC, 'serviceAccountName')} && {SPEC}.serviceAccountName != '' ? "
        f"{SPEC}.serviceAccountName : ({has(SPEC, 'serviceAccount')} && "
        f"{SPEC}.serviceAccount != '' ? {SPEC}.serviceAccount : 'default'))"
    )
    pod_value = f"{SPEC}.automountServiceAccountToken"
    passes = (
        f"has({pod_value}) ? {pod_value} == false : (params.metadata.name != {account} || "
        "(has(params.automountServiceAccountToken) && "
        "params.automountServiceAccountToken == false))"
    )
    return Template(
        WORKLOAD_KINDS,
        (Validation(passes, "the service account token is mounted"),),
        param_kind="ServiceAccount",
    )
