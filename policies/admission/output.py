"""deploy/admission/: write the generated files, or say how the folder differs from them."""

from __future__ import annotations

from pathlib import Path

from policies.catalogue import POLICIES_DIR

DEPLOY_DIR = POLICIES_DIR.parent / "deploy" / "admission"


def present(folder: Path) -> dict[str, str]:
    """The YAML files under `folder` (relative name -> text)."""
    if not folder.is_dir():
        return {}
    return {
        path.relative_to(folder).as_posix(): path.read_text(encoding="utf-8")
        for path in sorted(folder.rglob("*.yaml"))
    }


def differences(folder: Path, wanted: dict[str, str]) -> list[str]:
    """One line per file that is missing, stale or left over (empty: the folder is current)."""
    found = present(folder)
    lines = [f"{name}: missing" for name in sorted(set(wanted) - set(found))]
    lines += [
        f"{name}: stale" for name in sorted(set(wanted) & set(found)) if found[name] != wanted[name]
    ]
    lines += [f"{name}: generated from no rule" for name in sorted(set(found) - set(wanted))]
    return lines


def write(folder: Path, wanted: dict[str, str]) -> list[str]:
    """Make `folder` hold exactly `wanted` (YAML files only); the names of what changed."""
    changed = differences(folder, wanted)
    for name in set(present(folder)) - set(wanted):
        (folder / name).unlink()
    for name, text in wanted.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
    for directory in sorted((p for p in folder.rglob("*") if p.is_dir()), reverse=True):
        if not any(directory.iterdir()):
            directory.rmdir()
    return changed
