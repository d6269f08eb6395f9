"""One CEL template per check (kube-linter style: the check's params fill it in).

A template says which kinds the check's policy matches and which CEL tests admit an
object; each test is written from the check's Python in policies/checks/ and mirrors it
branch by branch (the e2e tier proves them equal on every case: suites/e2e/test_admission.py).
A check without a template cannot give a rule an admission form; `WITHOUT_TEMPLATE` says
why for each workload and manifest check that has none.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from policies.admission.cel import SPEC, WORKLOAD_KINDS, all_of, field, has, literal, selects
from policies.registry import Params

# Every volume source of the Kubernetes 1.34 API (core/v1 Volume, without `name`).
VOLUME_SOURCES = (
    *("awsElasticBlockStore", "azureDisk", "azureFile", "cephfs", "cinder", "configMap", "csi"),
    *("downwardAPI", "emptyDir", "ephemeral", "fc", "flexVolume", "flocker", "gcePersistentDisk"),
    *("gitRepo", "glusterfs", "hostPath", "image", "iscsi", "nfs", "persistentVolumeClaim"),
    *("photonPersistentDisk", "portworxVolume", "projected", "quobyte", "rbd", "scaleIO"),
    *("secret", "storageos", "vsphereVolume"),
)
PROBES = ("livenessProbe", "readinessProbe", "startupProbe")


@dataclass(frozen=True)
class Validation:
    """One CEL test (true admits) and what a denial says when it fails.

    `offenders` is a CEL list of what fails (containers, volumes, data keys) and `names`
    maps one offender `x` to its name, so the message names them; without it the message
    names the object only.
    """

    expression: str
    problem: str
    offenders: str | None = None
    names: str = "x.name"
    noun: str = "container"


@dataclass(frozen=True)
class Template:
    kinds: tuple[str, ...]
    validations: tuple[Validation, ...]
    # params of the policy: each object of this kind in the admitted object's namespace
    param_kind: str | None = None
    # the tests read the pod template (the WORKLOAD_VARIABLES), not the object itself
    pod_template: bool = True


def each_container(
    passes: str, problem: str, *, init: bool = True, serving_only: bool = False
) -> Validation:
    """`passes` (CEL over container `c`) must hold for every container of the pod template."""
    pool = "variables.containers" if init else "variables.appContainers"
    offenders = f"{pool}.filter(c, !({passes}))"
    if serving_only:
        offenders = f"(variables.serving ? {offenders} : [])"
    return Validation(f"size({offenders}) == 0", problem, offenders, "x.name")


TemplateFn = Callable[[Params], Template]
TEMPLATES: dict[str, TemplateFn] = {}

WITHOUT_TEMPLATE: dict[str, str] = {
    "pull-policy": "the API server defaults imagePullPolicy before admission, so an unset "
    "policy cannot be seen",
    "dedicated-service-account": "whether a chart renders the ServiceAccount is a property of "
    "the rendering, not of one object",
    "selector-matches-labels": "the API server's own validation refuses a mismatched "
    "apps/v1 selector before admission",
    "recommended-labels": "judged on chart renderings only",
    "not-default-namespace": "the default namespace carries no environment label",
    "hpa-target": "compares the HPA with the rendered workloads",
    "no-static-replicas": "compares a workload with the HPA that scales it",
    "min-replicas": "reads the HPA that scales the workload",
    "pdb-covers-workload": "compares PodDisruptionBudgets with workloads",
    "pdb-allows-eviction": "compares a PodDisruptionBudget with the workloads it selects",
    "topology-spread-valid": "the API server's own validation refuses most of it before admission",
    "network-policy": "compares NetworkPolicies with workloads",
    "service-selects-pods": "compares Services with workloads",
    "ingress-backend": "compares Ingresses with Services",
    "removed-versions": "a removed apiVersion never reaches admission",
    "rbac-least-privilege": "cluster-scoped ClusterRoles match every binding, whatever the "
    "namespace's environment",
    "strategy": "a workloadRef names a Deployment of the same manifests",
    "services": "compares a Rollout with the Services it names",
    "steps": "pause durations need Argo Rollouts' duration parser",
    "weights-achievable": "reads the HPA that scales the Rollout",
    "production-canary": "reads the AnalysisTemplates the steps run",
    "blue-green-promotion": "reads the AnalysisTemplates of the promotion analysis",
    "metric-names": "reads the metrics the service's code exports",
    "no-data-fails": "runs each condition through Argo Rollouts' own evaluator",
    "thresholds": "runs each condition through Argo Rollouts' own evaluator",
    "template-valid": "possible for AnalysisTemplates; not yet written",
    "templates-exist": "compares a Rollout with the AnalysisTemplates it names",
}
# ArgoCD's objects live in ArgoCD's namespace, which no environment label marks.
WITHOUT_TEMPLATE.update(
    dict.fromkeys(
        (
            "applicationset-matches-applications",
            "applicationset-missingkey",
            "destination",
            "ignore-differences-scoped",
            "pinned-revision",
            "production-manual-sync",
            "project-not-default",
            "project-restrictions",
            "staging-auto-sync",
        ),
        "judges ArgoCD's objects, which live outside the environments' namespaces",
    )
)


def template(check_name: str) -> Callable[[TemplateFn], TemplateFn]:
    def register(fn: TemplateFn) -> TemplateFn:
        if check_name in TEMPLATES:
            raise ValueError(f"CEL template for check {check_name!r} registered twice")
        TEMPLATES[check_name] = fn
        return fn

    return register


# ---- pod security ----------------------------------------------------------------------


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


# ---- images ----------------------------------------------------------------------------


@template("explicit-tag")
def explicit_tag(params: Params) -> Template:
    """policies.workloads.split_image: a non-empty digest pins; else the last path segment
    of the name (before any `@`) must carry a tag that is not a forbidden one."""
    name = "c.image.split('@')[0]"
    digest = "c.image.contains('@') && c.image.substring(c.image.indexOf('@') + 1) != ''"
    last = f"{name}.substring({name}.lastIndexOf('/') + 1)"
    tag = f"{name}.substring({name}.lastIndexOf(':') + 1)"
    forbidden = literal(list(params["forbidden"]))
    passes = (
        f"has(c.image) && c.image != '' && ({digest} || "
        f"({last}.contains(':') && !({tag} in {forbidden})))"
    )
    problem = f"the image has no tag or a mutable one ({', '.join(params['forbidden'])})"
    return Template(WORKLOAD_KINDS, (each_container(passes, problem),))


# ---- probes ----------------------------------------------------------------------------


@template("probe-present")
def probe_present(params: Params) -> Template:
    probe = params["probe"]
    return Template(
        WORKLOAD_KINDS,
        (each_container(f"has(c.{probe})", f"has no {probe}", init=False, serving_only=True),),
    )


@template("distinct")
def distinct(params: Params) -> Template:
    passes = (
        "!(has(c.livenessProbe) && has(c.readinessProbe) && c.livenessProbe == c.readinessProbe)"
    )
    return Template(
        WORKLOAD_KINDS,
        (each_container(passes, "livenessProbe is identical to readinessProbe", init=False),),
    )


def _port_declared(handler: str) -> str:
    port = f"{handler}.port"
    by_number = "has(c.ports) && c.ports.exists(q, has(q.containerPort) && q.containerPort == {})"
    by_name = "has(c.ports) && c.ports.exists(q, has(q.name) && q.name == string({}))"
    return (
        f"(!has({port}) || (type({port}) == int ? ({by_number.format(port)}) : "
        f"({by_name.format(port)})))"
    )


@template("declared-port")
def declared_port(params: Params) -> Template:
    """The first of httpGet, tcpSocket and grpc a probe has names its port."""
    tests = []
    for name in PROBES:
        probe = f"c.{name}"
        port_ok = "true"
        for handler in reversed(("httpGet", "tcpSocket", "grpc")):
            port_ok = (
                f"(has({probe}.{handler}) ? {_port_declared(probe + '.' + handler)} : {port_ok})"
            )
        tests.append(f"!has({probe}) || {port_ok}")
    return Template(
        WORKLOAD_KINDS,
        (
            each_container(
                all_of(tests), "a probe targets a port the container does not declare", init=False
            ),
        ),
    )


@template("graceful-shutdown")
def graceful_shutdown(params: Params) -> Template:
    pre_stop = "c.lifecycle.preStop"
    handlers = " || ".join(
        f"has({pre_stop}.{h})" for h in ("exec", "httpGet", "tcpSocket", "sleep")
    )
    hooked = f"{has('c', 'lifecycle', 'preStop')} && ({handlers})"
    seconds = f"{pre_stop}.sleep.seconds"
    sleeps = f"{hooked} && {has(pre_stop, 'sleep', 'seconds')}"
    minimum = params["min_pre_stop_seconds"]
    grace = (
        f"({has(SPEC, 'terminationGracePeriodSeconds')} ? {SPEC}.terminationGracePeriodSeconds "
        ": 30)"
    )
    if isinstance(minimum, float) and not minimum.is_integer():
        too_short = f"double({seconds}) < {literal(minimum)}"
    else:
        too_short = f"{seconds} < {literal(int(minimum))}"
    return Template(
        WORKLOAD_KINDS,
        (
            each_container(
                hooked,
                "has no preStop hook, so it gets SIGTERM while still receiving traffic",
                init=False,
                serving_only=True,
            ),
            each_container(
                f"!({sleeps}) || !({too_short})",
                f"preStop sleeps less than {minimum:g} s: no time for the endpoints to drop "
                "the pod",
                init=False,
                serving_only=True,
            ),
            each_container(
                f"!({sleeps}) || {seconds} < {grace}",
                "preStop sleeps not less than terminationGracePeriodSeconds",
                init=False,
                serving_only=True,
            ),
        ),
    )


# ---- availability ----------------------------------------------------------------------


def serving_pod(passes: str, problem: str) -> Validation:
    """`passes` (CEL over the pod template) must hold when the workload serves."""
    return Validation(f"!variables.serving || ({passes})", problem)


@template("zone-spread")
def zone_spread(params: Params) -> Template:
    key, mode = literal(params["topology_key"]), literal(params["when_unsatisfiable"])
    constraints = f"(has({SPEC}.topologySpreadConstraints) ? {SPEC}.topologySpreadConstraints : [])"
    spreads = f"c.topologyKey == {key} && {selects('c.labelSelector')}"
    return Template(
        WORKLOAD_KINDS,
        (
            serving_pod(
                f"{constraints}.exists(c, {spreads})",
                f"no topologySpreadConstraint on {params['topology_key']} selects its pods",
            ),
            serving_pod(
                f"!{constraints}.exists(c, {spreads}) || {constraints}.exists(c, {spreads} && "
                f"has(c.whenUnsatisfiable) && c.whenUnsatisfiable == {mode})",
                f"the {params['topology_key']} spread constraint is not whenUnsatisfiable: "
                f"{params['when_unsatisfiable']}",
            ),
        ),
    )


@template("pod-anti-affinity")
def pod_anti_affinity(params: Params) -> Template:
    """The required terms and the preferred ones' podAffinityTerm: one must select the pod's
    own labels on one of the topology keys."""
    anti = f"{SPEC}.affinity.podAntiAffinity"
    required = f"{anti}.requiredDuringSchedulingIgnoredDuringExecution"
    preferred = f"{anti}.preferredDuringSchedulingIgnoredDuringExecution"
    keys = literal(list(params["topology_keys"]))
    term = f"has(t.topologyKey) && t.topologyKey in {keys} && {selects('t.labelSelector')}"
    has_anti = has(SPEC, "affinity", "podAntiAffinity")
    passes = (
        f"{has_anti} && ((has({required}) && {required}.exists(t, {term})) || "
        f"(has({preferred}) && {preferred}.exists(w, has(w.podAffinityTerm) && "
        f"[w.podAffinityTerm].exists(t, {term}))))"
    )
    shown = " or ".join(sorted(params["topology_keys"]))
    return Template(
        WORKLOAD_KINDS,
        (serving_pod(passes, f"no podAntiAffinity term selects its own pods on {shown}"),),
    )


# ---- resources and env ------------------------------------------------------------------


@template("resources")
def resources(params: Params) -> Template:
    """Each section must set each resource to something other than empty or zero."""
    validations = []
    for section in params["sections"]:
        values = f"c.resources.{section}"
        tests = [
            f"{has('c', 'resources', section)} && {literal(r)} in {values} && "
            f"!(string({values}[{literal(r)}]) in ['', '0'])"
            for r in params["resources"]
        ]
        problem = f"resources.{section} lacks {' or '.join(params['resources'])}"
        validations.append(each_container(all_of(tests), problem))
    return Template(WORKLOAD_KINDS, tuple(validations))


@template("no-duplicate-env")
def no_duplicate_env(params: Params) -> Template:
    passes = "!has(c.env) || c.env.all(e, c.env.filter(x, x.name == e.name).size() == 1)"
    return Template(
        WORKLOAD_KINDS, (each_container(passes, "an environment variable is defined twice"),)
    )


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


# ---- workload objects ----------------------------------------------------------------------


@template("hpa-bounds")
def hpa_bounds(params: Params) -> Template:
    low = "(has(object.spec.minReplicas) ? object.spec.minReplicas : 1)"
    minimum = literal(params["min"])
    return Template(
        ("HorizontalPodAutoscaler",),
        pod_template=False,
        validations=(
            Validation(f"{low} >= {minimum}", f"minReplicas is below {params['min']}"),
            Validation(
                f"has(object.spec.maxReplicas) && object.spec.maxReplicas > {low}",
                "maxReplicas is not above minReplicas, so it never scales",
            ),
        ),
    )


@template("fallback-rolling-update")
def fallback_rolling_update(params: Params) -> Template:
    strategy = "object.spec.strategy"
    kind = f"({has('object', 'spec', 'strategy', 'type')} ? {strategy}.type : 'RollingUpdate')"
    rolling = f"{strategy}.rollingUpdate"
    surge, unavailable = str(params["max_surge"]), str(params["max_unavailable"])
    passes = (
        f"{kind} == 'RollingUpdate' && "
        f"{has('object', 'spec', 'strategy', 'rollingUpdate', 'maxSurge')} && "
        f"string({rolling}.maxSurge) == {literal(surge)} && "
        f"{has('object', 'spec', 'strategy', 'rollingUpdate', 'maxUnavailable')} && "
        f"string({rolling}.maxUnavailable) == {literal(unavailable)}"
    )
    problem = (
        f"the strategy is not RollingUpdate with maxSurge {surge} / maxUnavailable {unavailable}"
    )
    return Template(("Deployment",), (Validation(passes, problem),), pod_template=False)


def _blue_green() -> str:
    """CEL: the Rollout's strategy is blueGreen (canary wins when both are declared, as in
    policies.analysis.rollout_strategy)."""
    strategy = "object.spec.strategy"
    return f"has({strategy}) && !has({strategy}.canary) && has({strategy}.blueGreen)"


@template("blue-green-window")
def blue_green_window(params: Params) -> Template:
    want = params["scale_down_delay_seconds"]
    delay = field("object.spec.strategy.blueGreen", "scaleDownDelaySeconds")
    passes = f"!({_blue_green()}) || (has({delay}) ? {delay} : 30) >= {literal(want)}"
    problem = (
        f"scaleDownDelaySeconds is below {want}: the old version is gone before the rollback "
        "window ends"
    )
    return Template(("Rollout",), (Validation(passes, problem),), pod_template=False)


@template("progress-deadline")
def progress_deadline(params: Params) -> Template:
    spec = "object.spec"
    deadline = f"(has({spec}.progressDeadlineSeconds) ? {spec}.progressDeadlineSeconds : 600)"
    ready = f"(has({spec}.minReadySeconds) ? {spec}.minReadySeconds : 0)"
    canary = "object.spec.strategy.canary"
    is_canary = has("object", "spec", "strategy", "canary")

    def zero(name: str) -> str:
        return f"string(has({canary}.{name}) ? {canary}.{name} : '25%') in ['0', '0%']"

    validations = [
        Validation(f"{deadline} > {ready}", "progressDeadlineSeconds is not above minReadySeconds"),
        Validation(
            f"!({is_canary}) || !({zero('maxSurge')} && {zero('maxUnavailable')})",
            "maxSurge and maxUnavailable are both 0",
        ),
    ]
    if params["require_abort"]:
        validations.append(
            Validation(
                f"has({spec}.progressDeadlineAbort) && {spec}.progressDeadlineAbort == true",
                "progressDeadlineAbort is not true: a stuck canary keeps its traffic share forever",
            )
        )
    return Template(("Rollout",), tuple(validations), pod_template=False)
