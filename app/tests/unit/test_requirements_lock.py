"""The image installs app/requirements.lock; it must pin every runtime dependency."""

from __future__ import annotations

import re
import tomllib

from tests.localservers import REPO_ROOT

LOCK = REPO_ROOT / "app" / "requirements.lock"


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _pins() -> dict[str, str]:
    pins = {}
    for line in LOCK.read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_.-]+)==(\S+)", line)
        if match:
            pins[_normalise(match[1])] = match[2]
    return pins


def test_every_runtime_dependency_is_pinned_with_hashes() -> None:
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    wanted = {
        _normalise(re.split(r"[\[<>=!~ ;]", dep, maxsplit=1)[0]) for dep in project["dependencies"]
    }
    missing = wanted - set(_pins())
    assert not missing, (
        f"{sorted(missing)} missing from {LOCK.name}; regenerate it (see docs/service.md)"
    )
    entries = re.split(r"\n(?=[A-Za-z0-9])", LOCK.read_text().split("\n\n", 1)[-1])
    unhashed = [e.split()[0] for e in entries if "==" in e and "--hash=sha256:" not in e]
    assert not unhashed
