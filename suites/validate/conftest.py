"""The validate tier's plugin: `pytest suites/validate --env <name>` checks one environment.

It reads the environment file (environments/<name>.yaml), connects to what the file names
(the cluster through its kubeconfig and context, the service's base URL, Prometheus) and
never changes any of them: every cluster call is a GET, and the only write anywhere is the
API smoke round trip, which deletes what it created and is off with --read-only or
`smoke.api_write: false`.

Options (group "validate", fixtures/validate/options.py); each has an ini key and an environment
variable, and the command line wins over the environment, which wins over the ini file:

    --env NAME               validate_env                SRE_PLATFORM_ENV (required)
    --env-file PATH          validate_env_file           SRE_PLATFORM_ENV_FILE
    --full                   validate_full               SRE_PLATFORM_VALIDATE_FULL=1
    --read-only              validate_read_only          SRE_PLATFORM_VALIDATE_READ_ONLY=1
    --gitops-root PATH       validate_gitops_root        SRE_PLATFORM_GITOPS_ROOT
    --expected-revision SHA  validate_expected_revision  SRE_PLATFORM_EXPECTED_REVISION
    --probe-requests N       validate_probe_requests     SRE_PLATFORM_PROBE_REQUESTS (50)

The cluster is the shared plugin fixtures/cluster.py with `existing` semantics: the
kubeconfig and context come from the environment file; `--kubeconfig`/`--context` on the
command line override them (to run as another identity, e.g. the read-only validator).

Exit codes: 0 every check passed, 1 a check failed, 64 usage (no --env), 65 unknown
environment or malformed environment file (the message names the file and the key), 66 a
named file is missing, 69 the cluster, the service or Prometheus is unreachable (the
message names the endpoint).
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests

from fixtures import cluster as cluster_plugin
from fixtures.cluster import Cluster, ClusterOptions
from fixtures.core.exits import EX_UNAVAILABLE, EX_USAGE
from fixtures.core.kube import Kube
from fixtures.core.prometheus import Prometheus, PrometheusUnreachable, transport_error
from fixtures.validate import environment as envmod
from fixtures.validate.environment import Environment, EnvironmentUnusable
from fixtures.validate.options import OPTIONS, ValidateOptions
from fixtures.validate.queries import QueriesUnavailable, SloQueries, slo_queries
from fixtures.validate.service import Service
from fixtures.validate.state import Workload, find_workload, reader
from fixtures.validate.summary import CheckRecord, SummaryTable

HERE = Path(__file__).resolve().parent
SELFTEST_DIR = HERE / "selftest"
ENV_KEY = pytest.StashKey[Environment]()


def pytest_addoption(parser: pytest.Parser, pluginmanager: pytest.PytestPluginManager) -> None:
    cluster_plugin.register(pluginmanager)
    group = parser.getgroup("validate", "post-deploy validation of one environment")
    for o in OPTIONS:
        text = f"{o.help} [ini: {o.ini}, env: {o.env}]"
        if o.kind == "bool":
            group.addoption(o.flag, dest=f"validate_{o.dest}", action="store_true",
                            default=None, help=text)  # fmt: skip
            parser.addini(o.ini, o.help, type="bool", default=o.default)
        else:
            metavar = {"path": "PATH", "int": "N"}.get(o.kind, o.flag.lstrip("-").upper())
            group.addoption(o.flag, dest=f"validate_{o.dest}", default=None, metavar=metavar,
                            help=text)  # fmt: skip
            parser.addini(o.ini, o.help, default="" if o.default is None else str(o.default))


def _load_environment(config: pytest.Config) -> Environment:
    if ENV_KEY in config.stash:
        return config.stash[ENV_KEY]
    options = ValidateOptions.from_config(config)
    try:
        env = envmod.load(options.env, options.env_file)
    except EnvironmentUnusable as error:
        pytest.exit(f"validate: {error}", error.exit_code)
    config.stash[ENV_KEY] = env
    return env


def _arg_paths(config: pytest.Config) -> list[Path]:
    return [Path(arg.split("::", 1)[0]).resolve() for arg in config.args]


def _selftest_requested(config: pytest.Config) -> bool:
    return any(p == SELFTEST_DIR or SELFTEST_DIR in p.parents for p in _arg_paths(config))


def _only_checks_requested(config: pytest.Config) -> bool:
    paths = _arg_paths(config)
    return bool(paths) and all(
        (p == HERE or HERE in p.parents) and not (p == SELFTEST_DIR or SELFTEST_DIR in p.parents)
        for p in paths
    )


def _checks_requested(config: pytest.Config) -> bool:
    """The command line names this tier or one of its check modules (not the self-tests)."""
    return any(
        (p == HERE or HERE in p.parents) and not (p == SELFTEST_DIR or SELFTEST_DIR in p.parents)
        for p in _arg_paths(config)
    )


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """The self-tests (they break scratch environments) run only when asked for by path."""
    if collection_path == SELFTEST_DIR and not _selftest_requested(config):
        return True
    return None


def _is_check(item: pytest.Item) -> bool:
    path = Path(str(item.path))
    return HERE in path.parents and SELFTEST_DIR not in path.parents


def pytest_configure(config: pytest.Config) -> None:
    options = ValidateOptions.from_config(config)
    if options.env or options.env_file or _checks_requested(config):
        env = _load_environment(config)  # bad input fails before anything is contacted
        if _only_checks_requested(config):
            # Say in the cluster plugin's own header what the checks will use.
            chosen = _cluster_of(config, env)
            config.option.cluster = chosen.provider
            config.option.kubeconfig = str(chosen.kubeconfig) if chosen.kubeconfig else None
            config.option.kube_context = chosen.context

    def title() -> str:
        env = config.stash.get(ENV_KEY, None)
        return f"validate {env.name} ({env.namespace}/{env.release})" if env else "validate"

    if not config.pluginmanager.has_plugin("validate-summary"):
        config.pluginmanager.register(
            SummaryTable(track=lambda report: "validate_check" in report.keywords, title=title),
            "validate-summary",
        )
    config.addinivalue_line("markers", "validate_check: a check of the validate tier (summary row)")
    config.addinivalue_line("markers", "check(name): the check's name in the summary and JUnit")


# The order of the summary table: the workload, its pods, the service, the SLOs, ArgoCD.
MODULE_ORDER = ("test_rollout", "test_pods", "test_service", "test_slo", "test_argocd")


def _module_rank(item: pytest.Item) -> int:
    stem = Path(str(item.path)).stem
    return MODULE_ORDER.index(stem) if stem in MODULE_ORDER else len(MODULE_ORDER)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    checks = [item for item in items if _is_check(item)]
    if checks:
        items.sort(key=lambda item: _module_rank(item) if _is_check(item) else -1)
    for item in checks:
        item.add_marker(pytest.mark.validate)
        item.add_marker(pytest.mark.validate_check)
    if checks:
        _load_environment(config)  # --env is required once a check is collected


def pytest_report_header(config: pytest.Config) -> list[str]:
    env = config.stash.get(ENV_KEY, None)
    if env is None:
        return []
    options = ValidateOptions.from_config(config)
    flags = [name for name, on in (("full", options.full), ("read-only", options.read_only)) if on]
    return [
        f"validate: environment {env.name} ({env.file}), namespace {env.namespace}, "
        f"release {env.release}{', ' + ', '.join(flags) if flags else ''}",
        f"validate: service {env.base_url}, Prometheus {env.prometheus_url}, "
        f"GitOps {options.gitops_root(env) / env.values_file}",
    ]


# ---- fixtures ----------------------------------------------------------------------------


@pytest.fixture(scope="session")
def validate_options(pytestconfig: pytest.Config) -> ValidateOptions:
    return ValidateOptions.from_config(pytestconfig)


@pytest.fixture(scope="session")
def environment(pytestconfig: pytest.Config) -> Environment:
    return _load_environment(pytestconfig)


def _cluster_of(config: pytest.Config, environment: Environment) -> ClusterOptions:
    """`existing` with the environment file's kubeconfig and context; --kubeconfig and
    --context on the command line win (to run as another identity, e.g. the validator)."""
    provider = config.getoption("cluster")
    if provider not in (None, "existing"):
        pytest.exit(
            f"validate: --cluster {provider}: the validate tier reads an existing environment "
            f"(its kubeconfig and context come from {environment.file}); start the lab with "
            f"'make lab-up' and use --env lab",
            EX_USAGE,
        )
    kubeconfig = config.getoption("kubeconfig")
    context = config.getoption("kube_context")
    return ClusterOptions(
        provider="existing",
        kubeconfig=Path(kubeconfig).expanduser() if kubeconfig else environment.kubeconfig,
        context=context if kubeconfig or context else environment.context,
        keep=True,
    )


@pytest.fixture(scope="session")
def cluster_options(pytestconfig: pytest.Config, environment: Environment) -> ClusterOptions:
    return _cluster_of(pytestconfig, environment)


def _probe_service(env: Environment) -> str | None:
    url = f"{env.base_url}/healthz"
    try:
        requests.get(url, timeout=env.http_timeout)
    except requests.RequestException as error:
        return f"the service at {env.base_url} (GET {url}: {transport_error(error)})"
    return None


def _probe_prometheus(env: Environment) -> str | None:
    try:
        Prometheus(env.prometheus_url, timeout=env.http_timeout).check()
    except PrometheusUnreachable as error:
        return str(error)
    return None


@pytest.fixture(scope="session")
def preflight(request: pytest.FixtureRequest, environment: Environment) -> None:
    """Reach every endpoint the selected checks need, once, before the first check.

    An unreachable endpoint is not a failed check: the session ends with 69 and names it.
    """
    needed: set[str] = set()
    for item in request.session.items:
        needed.update(getattr(item, "fixturenames", ()))
    probes = []
    if "service" in needed:
        probes.append(_probe_service)
    if "prometheus" in needed:
        probes.append(_probe_prometheus)
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = [pool.submit(probe, environment) for probe in probes]
        if "kube" in needed:
            request.getfixturevalue("cluster")  # the plugin exits 69 naming the API server
        problems = [p for p in (f.result() for f in futures) if p]
    if problems:
        pytest.exit(
            f"validate {environment.name}: unreachable: {'; '.join(problems)}", EX_UNAVAILABLE
        )


@pytest.fixture(scope="session")
def kube(preflight: None, cluster: Cluster) -> Kube:
    return reader(cluster.api)


@pytest.fixture(scope="session")
def workload(kube: Kube, environment: Environment) -> Workload:
    found = find_workload(kube, environment.namespace, environment.release)
    if isinstance(found, str):
        pytest.fail(found, pytrace=False)
    return found


@pytest.fixture(scope="session")
def current_pods(kube: Kube, environment: Environment, workload: Workload) -> list[dict[str, Any]]:
    """The pods of the current revision (the Rollout's currentPodHash / newest ReplicaSet)."""
    if not workload.current_hash:
        pytest.fail(f"{workload.ref} to report its current revision, reports none", pytrace=False)
    selector = (
        f"app.kubernetes.io/name={environment.app},app.kubernetes.io/instance={environment.release},"
        f"{workload.hash_label}={workload.current_hash}"
    )
    return kube.list(f"/api/v1/namespaces/{environment.namespace}/pods", selector)


@pytest.fixture(scope="session")
def gitops_values(validate_options: ValidateOptions, environment: Environment) -> Path:
    return validate_options.gitops_root(environment) / environment.values_file


@pytest.fixture(scope="session")
def service(preflight: None, environment: Environment) -> Iterator[Service]:
    """The service at the environment's base URL (one HTTP session)."""
    svc = Service(environment.base_url, environment.http_timeout)
    svc.session.headers["User-Agent"] = f"sre-platform-validate/{environment.name}"
    yield svc
    svc.session.close()


@pytest.fixture(scope="session")
def prometheus(preflight: None, environment: Environment) -> Prometheus:
    return Prometheus(environment.prometheus_url, timeout=max(environment.http_timeout, 10))


@pytest.fixture(scope="session")
def queries(
    validate_options: ValidateOptions,
    environment: Environment,
    workload: Workload,
    gitops_values: Path,
) -> SloQueries:
    if workload.kind == "Rollout" and not workload.current_hash:
        pytest.fail(f"{workload.ref} to report its current revision, reports none", pytrace=False)
    revision = workload.current_hash if workload.kind == "Rollout" else ""
    try:
        return slo_queries(
            validate_options.gitops_root(environment) / environment.chart,
            gitops_values,
            environment.release,
            environment.namespace,
            environment.slo.window,
            revision or "",
        )
    except QueriesUnavailable as error:
        pytest.fail(str(error), pytrace=False)


@pytest.fixture(autouse=True)
def check(request: pytest.FixtureRequest) -> CheckRecord:
    """Record what a check measured and its threshold (summary table and JUnit properties).

    Autouse, so a check skipped or failed by a fixture still carries its name.
    """
    return CheckRecord(request.node)
