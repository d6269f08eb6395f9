"""yaml-rs (policies/fastyaml.py) gives exactly PyYAML's documents, or hands the text back.

A differential test: every YAML file of this repository and of the foreign corpus, every
rendering of the chart, and a table of the places where YAML 1.1 (PyYAML, sigs.k8s.io/yaml)
and YAML 1.2 (yaml-rs) part ways. Where the fast path answers, its documents must equal
PyYAML's; the plain files must take the fast path (else it is dead weight)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from fixtures.static.session import StaticSession
from policies import fastyaml
from policies.yamlio import _pyyaml

SUITE = Path(__file__).resolve().parents[3]
PLAIN = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata: {a: '1'}\n"

DIFFERENCES = [
    "a: yes",
    "a: [on, off]",
    "on: push",  # a workflow's trigger key: True in YAML 1.1
    "mode: 0755",
    "mode: 0o755",
    "n: 08",
    "big: 1e3",
    "f: 1.5e3",
    "t: 1:30",
    "t: 190:20:30.15",
    "n: 1_000",
    "b: !!binary aGk=",
    "c: !Ref x",
    "base: &b {x: 1}\nmerged: {<<: *b, y: 2}",
    "v: =",
    "? [a, b]\n: complex key",
    "%YAML 1.1\n---\na: yes",
    "a: 1\n...\nb: 2",
    "--- |\n  literal document\n--- 0",
    "--- # comment\na: 1",
    "a:\tb",
    "a: 1\r\nb: 2\r\n",
    "a: 1\na: 2",  # duplicate keys: the last wins in both
    "null",
    "---\n---\na: 1\n---\n",
    "",
    "# only a comment\n",
    "a: |+\n  kept\n\n---\nb: |-\n  stripped\n---\nc: |\n  clipped\n",  # block scalars at a '---'
    "a: [1, 2",  # malformed: PyYAML reports it
    "a: b: c",
    "a: \x07bell",
    "a: &x [*x]",  # a cycle: PyYAML builds it, yaml-rs cuts it
    "a: &x {b: 1}\nc: *x",  # a control character: PyYAML refuses it, yaml-rs would not
]


@pytest.mark.parametrize("text", DIFFERENCES, ids=range(len(DIFFERENCES)))
def test_yaml_11_and_12_differences_give_pyyamls_answer(text: str) -> None:
    try:
        expected = _pyyaml(text)
    except Exception:
        assert fastyaml.documents(text, _pyyaml) is None
        return
    fast = fastyaml.documents(text, _pyyaml)
    # repr, not ==: a cyclic document (an alias of its own parent) would recurse forever.
    assert fast is None or repr(fast) == repr(expected), f"fast {fast!r} != PyYAML {expected!r}"


def test_plain_documents_take_the_fast_path() -> None:
    assert fastyaml.yaml_rs is not None, "yaml-rs is not installed (uv.lock): run make setup"
    text = f"{PLAIN}---\n{PLAIN}---\n"
    fast = fastyaml.documents(text, _pyyaml)
    assert fast is not None and fast == _pyyaml(text) and len(fast) == 3


def _repository_yaml() -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "*.yaml", "*.yml"],
        cwd=SUITE,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return [SUITE / name for name in listed if (SUITE / name).is_file()]


def test_every_yaml_file_and_rendering_parses_alike(static: StaticSession) -> None:
    texts = {str(p.relative_to(SUITE)): p.read_text(encoding="utf-8") for p in _repository_yaml()}
    for target in static.targets:
        manifest, error = static.rendered(target.name)
        if error is None:
            texts[f"rendering {target.name}"] = manifest
    fast_count, mismatches = 0, []
    for name, text in texts.items():
        if "/templates/" in name:
            continue  # Go templates, not YAML
        fast = fastyaml.documents(text, _pyyaml)
        if fast is None:
            continue
        fast_count += 1
        if fast != _pyyaml(text):
            mismatches.append(name)
    assert not mismatches, f"yaml-rs and PyYAML disagree on: {mismatches}"
    assert fast_count >= len(texts) // 2, f"only {fast_count} of {len(texts)} took the fast path"
