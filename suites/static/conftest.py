"""The static tier's pytest plugin: options, the shared session, and the reports.

Options live in the "conformance" group, each mirrored by an ini key (`static_<name>`) and
an environment variable (`SRE_STATIC_<NAME>`), so another repository can point the suite at
its own chart, values, ArgoCD folder and workflows. Bad input ends the run with one line
naming the file and the exit code of docs/interfaces.md (64 usage, 65 data, 66 missing).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fixtures.static.config import OPTIONS, Option, build_config
from fixtures.static.findings import github_annotations, sarif, write_sarif
from fixtures.static.session import StaticSession, preflight
from fixtures.tools import ToolMissing, tool_path
from policies import conditions
from policies.catalogue import load_catalogue
from policies.errors import InputError
from policies.waivers import load_waivers

SESSION_KEY = pytest.StashKey[StaticSession]()
HERE = Path(__file__).resolve().parent


def _add_option(group: Any, parser: pytest.Parser, option: Option) -> None:
    try:
        if option.multiple:
            group.addoption(
                option.flag,
                dest=f"static_{option.dest}",
                action="append",
                default=None,
                help=f"{option.help} [ini: {option.ini}, env: {option.env}]",
            )
        else:
            group.addoption(
                option.flag,
                dest=f"static_{option.dest}",
                default=None,
                help=f"{option.help} [ini: {option.ini}, env: {option.env}]",
            )
    except ValueError:
        pass  # another tier's conftest registered the same flag; it means the same input
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
        help="print every policy rule (id, severity, title) and exit",
    )


def _getter(config: pytest.Config) -> Any:
    def get(option: Option) -> Any:
        cli = config.getoption(f"static_{option.dest}", default=None)
        if cli not in (None, []):
            return cli
        env = os.environ.get(option.env)
        if env is not None:
            return (
                env.split(";")
                if option.multiple and option.dest == "variants"
                else (
                    [v for v in env.replace(",", ";").split(";") if v] if option.multiple else env
                )
            )
        ini = config.getini(option.ini)
        return ini if ini not in (None, [], "") else None

    return get


def pytest_cmdline_main(config: pytest.Config) -> int | None:
    if not config.getoption("list_policies", default=False):
        return None
    try:
        catalogue = load_catalogue()
    except InputError as err:
        sys.stderr.write(f"static tier: {err}\n")
        return err.exit_code
    width = max(len(rule.id) for rule in catalogue.rules)
    sev_width = max(len(rule.severity_summary()) for rule in catalogue.rules)
    for rule in catalogue.rules:
        print(f"{rule.id:<{width}}  {rule.severity_summary():<{sev_width}}  {rule.title}")
    print(f"{len(catalogue.rules)} rules")
    return 0


def _in_this_tier(config: pytest.Config) -> bool:
    args = [Path(a.split("::")[0]).resolve() for a in config.args] or [Path.cwd()]
    return any(a == HERE or HERE.is_relative_to(a) or a.is_relative_to(HERE) for a in args)


def pytest_configure(config: pytest.Config) -> None:
    if not _in_this_tier(config):
        return
    try:
        static = build_config(config.rootpath, _getter(config))
        preflight(static)
        catalogue = load_catalogue()
        waivers = load_waivers(static.waivers, catalogue)
        # Analysis conditions are judged by Argo Rollouts' own evaluation (policies/conditions.py).
        conditions.use(tool_path("rollouts-evaluate"))
    except InputError as err:
        pytest.exit(f"static tier: {err}", returncode=err.exit_code)
    except ToolMissing as err:
        pytest.exit(f"static tier: {err}", returncode=69)
    config.stash[SESSION_KEY] = StaticSession(static, catalogue, waivers)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.is_relative_to(HERE):
            item.add_marker(pytest.mark.static)


def session_of(config: pytest.Config) -> StaticSession:
    try:
        return config.stash[SESSION_KEY]
    except KeyError:
        pytest.fail("the static tier's session was not configured", pytrace=False)


@pytest.fixture(scope="session")
def static(request: pytest.FixtureRequest) -> Iterator[StaticSession]:
    """The shared static-tier session (config, renders, engine results, linters)."""
    session = session_of(request.config)
    session.start()
    session.start_linters()
    try:
        yield session
    finally:
        session.close()


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
    path = session.config.sarif
    if path is not None:
        write_sarif(path, sarif(results.findings, session.catalogue, session.locator))
        tr.write_line(
            f"static tier: SARIF with {len(results.findings)} finding(s) written to {path}"
        )
    if os.environ.get("GITHUB_ACTIONS") == "true":
        for line in github_annotations(results.findings, session.locator):
            sys.stdout.write(line + "\n")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrize by what this repository (or the one the options point at) contains."""
    session = metafunc.config.stash.get(SESSION_KEY, None)
    if session is None:
        return
    cfg = session.config
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
