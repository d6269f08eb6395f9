"""Bad input of every kind ends in one line naming the file and a sysexits code, never a
traceback: the tier's plugin turns each `InputError` raised here into `pytest.exit` with that
line and code (test_cli.py runs the real command line on some of them). A malformed chart, a
chart that does not render and a values file of the wrong type are in the foreign corpus."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from fixtures.static.config import StaticConfig, build_config
from fixtures.static.findings import Locator
from fixtures.static.session import StaticSession, preflight
from policies.catalogue import load_catalogue
from policies.errors import InputError

SUITE = Path(__file__).resolve().parents[3]
CORPUS = SUITE / "suites" / "static" / "foreign"
DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: "registry.example.com/web:1.0.0"}]
"""


def configure(repo: Path, **options: Any) -> StaticConfig:
    values = {"repo": str(repo), **options}
    config = build_config(SUITE, lambda o: values.get(o.dest), cwd=SUITE)
    preflight(config)
    return config


def _error(call: Callable[[], object]) -> InputError:
    with pytest.raises(InputError) as info:
        call()
    message = str(info.value)
    assert "\n" not in message, f"more than one line: {message!r}"
    return info.value


def test_a_binary_file_named_yaml(tmp_path: Path) -> None:
    (tmp_path / "deploy").mkdir()
    (tmp_path / "deploy" / "web.yaml").write_text(DEPLOYMENT)
    (tmp_path / "deploy" / "logo.yaml").write_bytes(bytes(range(256)) * 4)
    err = _error(lambda: configure(tmp_path))
    assert err.exit_code == 65 and "deploy/logo.yaml" in str(err) and "not UTF-8" in str(err)


def test_control_characters_in_yaml(tmp_path: Path) -> None:
    (tmp_path / "web.yaml").write_text(DEPLOYMENT + "  note: \x07bell\n")
    err = _error(lambda: configure(tmp_path))
    assert err.exit_code == 65 and "web.yaml" in str(err)


def test_a_document_that_is_not_an_object(tmp_path: Path) -> None:
    (tmp_path / "web.yaml").write_text(DEPLOYMENT + "---\njust a sentence\n")
    err = _error(lambda: configure(tmp_path, manifests=["web.yaml"]))
    assert err.exit_code == 65 and "web.yaml: document 2 is a str" in str(err)


def test_a_folder_option_that_names_a_file(tmp_path: Path) -> None:
    (tmp_path / "argocd").write_text("kind: Application\n")
    err = _error(lambda: configure(tmp_path, argocd_dir="argocd"))
    assert err.exit_code == 66 and "is not a directory" in str(err)


def test_a_missing_repository() -> None:
    err = _error(lambda: configure(SUITE / "no-such-repository"))
    assert err.exit_code == 66 and "no-such-repository" in str(err)


def test_an_unreadable_folder() -> None:
    """A folder the tier may not list (as root, the check runs as nobody in a child)."""
    top = Path(tempfile.mkdtemp(prefix="static-unreadable-"))
    try:
        top.chmod(0o755)
        (top / "deploy").mkdir()
        (top / "deploy" / "web.yaml").write_text(DEPLOYMENT)
        (top / "secret").mkdir(mode=0o000)
        code, message = _in_child_as_nobody(lambda: configure(top))
    finally:
        (top / "secret").chmod(0o755)
        for path in sorted(top.rglob("*"), reverse=True):
            path.rmdir() if path.is_dir() else path.unlink()
        top.rmdir()
    assert code == 66, message
    assert message.endswith("secret: cannot read the folder: Permission denied"), message


def _in_child_as_nobody(call: Callable[[], object]) -> tuple[int, str]:
    """(exit code, message) of `call` in a forked child without root's read-everything."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: drop to nobody, report, never return into pytest
        os.close(read)
        code, message = 0, "no error"
        try:
            if os.getuid() == 0:
                os.setgid(65534)
                os.setuid(65534)
            call()
        except InputError as err:
            code, message = err.exit_code, str(err)
        except BaseException as err:
            code, message = 70, f"{type(err).__name__}: {err}"
        os.write(write, f"{code}\n{message}".encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        text = pipe.read()
    os.waitpid(pid, 0)
    code, _, message = text.partition("\n")
    return int(code), message


def test_an_unknown_key_in_the_repository_config(tmp_path: Path) -> None:
    (tmp_path / ".sre-static.yaml").write_text("charts: deploy/chart\n")
    err = _error(lambda: configure(tmp_path))
    assert err.exit_code == 64 and "unknown keys ['charts']" in str(err)


def test_a_dockerfile_that_is_not_text(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_bytes(b"FROM scratch\n\xff\xfe\n")
    err = _error(lambda: configure(tmp_path))
    assert err.exit_code == 65 and "Dockerfile" in str(err)


def test_no_scripts_is_no_shellcheck(tmp_path: Path) -> None:
    """`--scripts ''` once made test_shellcheck fail with KeyError: 'shellcheck'."""
    (tmp_path / "run.sh").write_text("#!/bin/sh\nset -eu\necho hi\n")
    config = configure(tmp_path, scripts=[""])
    session = StaticSession(config, load_catalogue(), [])
    assert config.scripts == () and "shellcheck" not in session.linter_keys()
    assert session.linter("shellcheck").ok


def test_a_chart_outside_the_repository_is_located(tmp_path: Path) -> None:
    """A chart named by an absolute path outside --repo once made the finding locator raise
    ValueError (Path.relative_to); its findings now name the chart's own path."""
    chart = CORPUS / "deployment-chart" / "charts" / "web"
    config = configure(tmp_path, chart=str(chart))
    session = StaticSession(config, load_catalogue(), [])
    try:
        findings = session.results.for_rule("resources/limits")
        location = session.locator.locate(findings[0])
    finally:
        session.close()
    assert location is not None and location.file.endswith("templates/deployment.yaml")
    assert isinstance(session.locator, Locator)


def test_the_repository_comes_from_the_option_the_variable_or_the_ini_key(tmp_path: Path) -> None:
    """--repo (relative to the current directory) wins over SRE_STATIC_REPO, which wins over
    the ini key static_repo (relative to the suite); the repository's own .sre-static.yaml
    sits between the variable and the ini key for every other setting."""
    from fixtures.static.config import env_getter

    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / ".sre-static.yaml").write_text("workflows_dir: ''\nscripts: ''\n")
    environ = {"SRE_STATIC_REPO": str(tmp_path / "b"), "SRE_STATIC_SCRIPTS": "x.sh"}
    (tmp_path / "b" / "x.sh").write_text("#!/bin/sh\nset -eu\n")
    config = build_config(SUITE, env_getter(environ), lambda o: None, cwd=tmp_path)
    assert config.root == (tmp_path / "b").resolve() and config.foreign
    assert [p.name for p in config.scripts] == ["x.sh"]  # the variable beats the file
    assert config.workflows_dir is None  # the file beats the default
    cli = build_config(SUITE, lambda o: "a" if o.dest == "repo" else None, cwd=tmp_path)
    assert cli.root == (tmp_path / "a").resolve()
    ini = build_config(SUITE, lambda o: None, lambda o: "suites" if o.dest == "repo" else None)
    assert ini.root == SUITE / "suites"
    assert not build_config(SUITE, lambda o: None).foreign
