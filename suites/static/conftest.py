"""The static tier's pytest plugin: options, the shared session, and the reports.

Options live in the "conformance" group, each mirrored by an ini key (`static_<name>`), an
environment variable (`SRE_STATIC_<NAME>`) and a key of the judged repository's own
`.sre-static.yaml`, so the suite runs on any repository (`--repo PATH`). This repository's
self-tests (`selftest/`) run only when the suite judges this repository. Bad input ends the
run with one line naming the file and the exit code of docs/interfaces.md (64 usage, 65
data, 66 missing, 69 a tool is not built).
"""

from __future__ import annotations

import contextlib
import gc
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fixtures.static.config import OPTIONS, Option, build_config, env_getter
from fixtures.static.findings import github_annotations, sarif, write_sarif
from fixtures.static.linter_findings import github_annotations as lint_annotations
from fixtures.static.linter_findings import sarif_runs as lint_sarif_runs
from fixtures.static.session import StaticSession, preflight
from fixtures.tools import ToolMissing, tool_path
from policies import conditions
from policies.catalogue import load_catalogue
from policies.errors import InputError, UsageError
from policies.waivers import load_waivers

SESSION_KEY = pytest.StashKey[StaticSession]()
HERE = Path(__file__).resolve().parent
SELFTEST = HERE / "selftest"
# What a test needs of the repository; without it the test is not collected (a repository
# without workflows has no workflow verdicts, not skipped ones).
NEEDS = {
    "chart": lambda s: s.config.chart is not None,
    "workflows": lambda s: bool(s.workflow_files()),
    "scripts": lambda s: bool(s.config.scripts),
    "argocd": lambda s: s.repo.argocd is not None,
    "dockerfiles": lambda s: bool(s.config.dockerfiles),
    "objects": lambda s: any(b.objects for b in s.repo.bundles),
    "manifests": lambda s: bool(s.config.manifests) or s.config.stdin_manifests is not None,
}


def _add_option(group: Any, parser: pytest.Parser, option: Option) -> None:
    # Another tier's conftest may have registered the same flag; it means the same input.
    with contextlib.suppress(ValueError):
        group.addoption(
            option.flag,
            dest=f"static_{option.dest}",
            action="append" if option.multiple else "store",
            default=None,
            help=f"{option.help} [ini: {option.ini}, env: {option.env}]",
        )
    parser.addini(
        option.ini, option.help, type="linelist" if option.multiple else "string", default=None
    )


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("conformance", "delivery-platform conformance suite")
    for option in OPTIONS:
        _add_option(group, parser, option)
    group.addoption(
        "--list-policies",
        action="store_true",
        default=False,
        help="print every policy rule (id, profile, severity, title) and exit",
    )


def _cli_and_env(config: pytest.Config) -> Any:
    """The command line, else the `SRE_STATIC_*` variable (None when neither is set)."""
    from_env = env_getter()

    def get(option: Option) -> Any:
        cli = config.getoption(f"static_{option.dest}", default=None)
        return cli if cli is not None else from_env(option)

    return get


def _ini(config: pytest.Config) -> Any:
    def get(option: Option) -> Any:
        value = config.getini(option.ini)
        return value if value not in (None, [], "") else None

    return get


def _stdin(config: pytest.Config) -> Any:
    """Read what was piped in (`--manifests -`): pytest's capture holds stdin, so it is
    released for the read, as pytest does for pdb."""

    def read() -> str:
        capture = config.pluginmanager.getplugin("capturemanager")
        if capture is not None:
            capture.suspend_global_capture(in_=True)
        try:
            if sys.stdin is None or sys.stdin.isatty():
                raise UsageError("--manifests -: standard input is a terminal; pipe manifests in")
            return sys.stdin.read()
        except UnicodeDecodeError as err:
            raise InputError(f"<stdin>: manifests are not UTF-8 text ({err.reason})") from None
        finally:
            if capture is not None:
                capture.resume_global_capture()

    return read


def pytest_cmdline_main(config: pytest.Config) -> int | None:
    if not config.getoption("list_policies", default=False):
        return None
    try:
        catalogue = load_catalogue()
    except InputError as err:
        sys.stderr.write(f"static tier: {err}\n")
        return err.exit_code
    width = max(len(rule.id) for rule in catalogue.rules)
    profile_width = max(len(rule.profile) for rule in catalogue.rules)
    sev_width = max(len(rule.severity_summary()) for rule in catalogue.rules)
    for rule in catalogue.rules:
        print(
            f"{rule.id:<{width}}  {rule.profile:<{profile_width}}  "
            f"{rule.severity_summary():<{sev_width}}  {rule.title}"
        )
    print(f"{len(catalogue.rules)} rules")
    return 0


def _in_this_tier(config: pytest.Config) -> bool:
    args = [Path(a.split("::")[0]).resolve() for a in config.args] or [Path.cwd()]
    return any(a == HERE or HERE.is_relative_to(a) or a.is_relative_to(HERE) for a in args)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "needs(input): collected only when the judged repository has that input"
    )
    config.addinivalue_line("markers", "policy: parametrized by the rules of the run's profiles")
    if not _in_this_tier(config):
        return
    try:
        static = build_config(
            config.rootpath, _cli_and_env(config), _ini(config), Path.cwd(), _stdin(config)
        )
        preflight(static)
        catalogue = load_catalogue()
        waivers = load_waivers(static.waivers, catalogue) if static.waivers else []
        # Analysis conditions are judged by Argo Rollouts' own evaluation (policies/conditions.py).
        conditions.use(tool_path("rollouts-evaluate"))
    except InputError as err:
        pytest.exit(f"static tier: {err}", returncode=err.exit_code)
    except ToolMissing as err:
        pytest.exit(f"static tier: {err}", returncode=69)
    session = StaticSession(static, catalogue, waivers)
    # helm and the linters run while pytest collects.
    session.start()
    session.start_linters()
    config.stash[SESSION_KEY] = session


def pytest_unconfigure(config: pytest.Config) -> None:
    session = config.stash.get(SESSION_KEY, None)
    if session is not None:
        session.close()


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """This repository's self-tests never run against another repository."""
    session = config.stash.get(SESSION_KEY, None)
    if session is not None and session.config.foreign and collection_path == SELFTEST:
        return True
    return None


def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    for item in items:
        if item.path.is_relative_to(HERE):
            item.add_marker(pytest.mark.static)
    static = config.stash.get(SESSION_KEY, None)
    if static is None:
        return
    failure = static.render_failure()
    if failure is not None:
        pytest.exit(f"static tier: {failure}", returncode=failure.exit_code)
    try:
        static.repo  # noqa: B018 (parse every input now: bad input is one line, not N failures)
    except InputError as err:
        pytest.exit(f"static tier: {err}", returncode=err.exit_code)
    kept: list[pytest.Item] = []
    dropped: list[pytest.Item] = []
    for item in items:
        needs = [m.args[0] for m in item.iter_markers("needs")]
        (kept if all(NEEDS[n](static) for n in needs) else dropped).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


def pytest_collection_finish(session: pytest.Session) -> None:
    static = session.config.stash.get(SESSION_KEY, None)
    if static is not None:
        # A test module's `start_in_background(static)` submits its slow independent work
        # (subprocesses) to the session's pool now, to run beside the tests before it.
        modules = {item.module for item in session.items if isinstance(item, pytest.Function)}
        for module in sorted(modules, key=lambda m: m.__name__):
            start = getattr(module, "start_in_background", None)
            if callable(start):
                start(static)
    # What collection built (rendered charts, the parsed repository, schemas) lives to the
    # end: the cyclic GC need not rescan it each time the tests' own garbage is collected.
    gc.freeze()


def session_of(config: pytest.Config) -> StaticSession:
    try:
        return config.stash[SESSION_KEY]
    except KeyError:
        pytest.fail("the static tier's session was not configured", pytrace=False)


@pytest.fixture(scope="session")
def static(request: pytest.FixtureRequest) -> Iterator[StaticSession]:
    """The shared static-tier session (config, renders, engine results, linters)."""
    yield session_of(request.config)


@pytest.hookimpl(trylast=True)
def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    session = config.stash.get(SESSION_KEY, None)
    if session is None or "results" not in session.__dict__:
        return
    results = session.results
    tr = terminalreporter
    if results.warnings:
        tr.section(f"policy warnings ({len(results.warnings)}, not failing)", sep="-", yellow=True)
        for finding in results.warnings:
            tr.write_line(f"{finding.text()}  [{finding.target}]")
    if results.waived:
        tr.section(f"waived findings ({len(results.waived)})", sep="-")
        for finding in results.waived:
            assert finding.waiver is not None
            tr.write_line(
                f"{finding.text()}  [waived until {finding.waiver.expires}: "
                f"{finding.waiver.reason}]"
            )
    if session.skipped:
        tr.section(f"Helm test hooks, not judged ({len(session.skipped)})", sep="-")
        for obj in session.skipped:
            tr.write_line(f"{obj.ref} ({obj.file}): runs only on `helm test`")
    lint = session.lint_results()
    path = session.config.sarif
    if path is not None:
        log = sarif(results.findings, session.catalogue, session.locator)
        log["runs"] += lint_sarif_runs(lint, session.config.root)
        write_sarif(path, log)
        linted = sum(len(run["results"]) for run in log["runs"][1:])
        tr.write_line(
            f"static tier: SARIF with {len(results.findings)} policy finding(s) and {linted} "
            f"linter finding(s) written to {path}"
        )
    if os.environ.get("GITHUB_ACTIONS") == "true":
        for line in github_annotations(results.findings, session.locator):
            sys.stdout.write(line + "\n")
        for line in lint_annotations(lint):
            sys.stdout.write(line + "\n")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrize by what this repository (or the one the options point at) contains."""
    session = metafunc.config.stash.get(SESSION_KEY, None)
    if session is None:
        return
    cfg = session.config
    if "rule_id" in metafunc.fixturenames and metafunc.definition.get_closest_marker("policy"):
        metafunc.parametrize("rule_id", [rule.id for rule in session.rules])
    if "env_name" in metafunc.fixturenames:
        metafunc.parametrize("env_name", list(cfg.envs))
    if "render_target" in metafunc.fixturenames:
        metafunc.parametrize("render_target", [t.name for t in session.targets])
    if "script" in metafunc.fixturenames:
        metafunc.parametrize("script", list(cfg.scripts), ids=[cfg.shown(p) for p in cfg.scripts])
    if "dockerfile" in metafunc.fixturenames:
        metafunc.parametrize(
            "dockerfile", list(cfg.dockerfiles), ids=[cfg.shown(p) for p in cfg.dockerfiles]
        )
