"""Read YAML the way the Kubernetes tooling does, and find the line of any value later.

Parsing uses yaml-rs where it reads YAML exactly as PyYAML does (`fastyaml.py`), else
libyaml (CSafeLoader); line numbers are only needed for the few objects that have findings,
so a `YamlLocator` composes PyYAML's node tree lazily on demand.
Timestamps stay strings (as in sigs.k8s.io/yaml), so `"2026-01-01"`-like values in
manifests are not turned into dates behind the user's back.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from policies import fastyaml
from policies.errors import EX_NOINPUT, InputError, MissingInput
from policies.gcpause import gc_paused

_Base: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class KubeLoader(_Base):  # type: ignore[misc,valid-type]
    """libyaml SafeLoader without the timestamp resolver."""


KubeLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in _Base.yaml_implicit_resolvers.items()
}

PathKey = str | int


def read_text(path: Path, what: str = "file") -> str:
    """The file's text, or an InputError naming the file."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise MissingInput(f"{path}: {what} does not exist") from None
    except IsADirectoryError:
        raise InputError(f"{path}: expected a {what}, found a directory") from None
    except UnicodeDecodeError as err:
        raise InputError(f"{path}: {what} is not UTF-8 text ({err.reason})") from None
    except OSError as err:  # unreadable: permissions, a symlink loop, a FIFO gone wrong
        raise InputError(f"{path}: cannot read the {what}: {err.strerror}", EX_NOINPUT) from None


_PARSED: dict[str, list[Any]] = {}
_PARSED_LIMIT = 4096
_MEMO_MAX_BYTES = 512 * 1024


def parse_documents(text: str, name: str) -> list[Any]:
    """Every document of a YAML stream (empty documents as None, so indices match lines).

    Results are memoised by text: the same rendering or manifest parsed again in one process
    (mutation tests re-read an unchanged repository) costs nothing. Callers must treat the
    returned documents as read-only.
    """
    cached = _PARSED.get(text)
    if cached is not None:
        return cached
    with gc_paused():  # millions of new containers in a big input, and no cycles
        docs = _parse(text, name)
    if len(text) <= _MEMO_MAX_BYTES:
        if len(_PARSED) >= _PARSED_LIMIT:
            _PARSED.clear()
        _PARSED[text] = docs
    return docs


def _pyyaml(text: str) -> list[Any]:
    return list(yaml.load_all(text, Loader=KubeLoader))


def _parse(text: str, name: str) -> list[Any]:
    fast = fastyaml.documents(text, _pyyaml)
    if fast is not None:
        return fast
    try:
        return _pyyaml(text)
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        where = f"{name}:{mark.line + 1}" if mark else name
        raise InputError(f"{where}: malformed YAML: {err.problem or err.context}") from None
    except yaml.reader.ReaderError as err:  # a character YAML does not allow (binary data)
        line = text[: err.position].count("\n") + 1
        raise InputError(
            f"{name}:{line}: malformed YAML: {err.reason} (character {err.character!r})"
        ) from None
    except yaml.YAMLError as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise InputError(f"{name}: malformed YAML: {first}") from None


def load_documents(path: Path, what: str = "YAML file") -> list[Any]:
    """Parse a YAML file; missing or malformed files raise InputError naming it."""
    return parse_documents(read_text(path, what), str(path))


def load_mapping(path: Path, what: str = "YAML file") -> dict[str, Any]:
    """A YAML file that must hold exactly one mapping (values files, rule files)."""
    docs = [doc for doc in load_documents(path, what) if doc is not None]
    if not docs:
        return {}
    if len(docs) > 1 or not isinstance(docs[0], dict):
        raise InputError(f"{path}: expected one YAML mapping, found {_describe(docs)}")
    return docs[0]


def _describe(docs: list[Any]) -> str:
    if len(docs) > 1:
        return f"{len(docs)} documents"
    return type(docs[0]).__name__


class YamlLocator:
    """Line numbers (1-based) of values inside a YAML text, computed on first use."""

    def __init__(self, text: str) -> None:
        self._text = text
        self._docs: list[yaml.Node] | None = None

    def _nodes(self) -> list[yaml.Node]:
        if self._docs is None:
            try:
                self._docs = list(yaml.compose_all(self._text, Loader=KubeLoader))
            except yaml.YAMLError:
                self._docs = []
        return self._docs

    def line(self, doc: int, path: Sequence[PathKey] = ()) -> int | None:
        """The line of the deepest node of `path` that exists in document `doc`."""
        docs = self._nodes()
        if not 0 <= doc < len(docs) or docs[doc] is None:
            return None
        node: yaml.Node = docs[doc]
        line = node.start_mark.line + 1
        for key in path:
            child = _child(node, key)
            if child is None:
                break
            key_line, node = child
            line = key_line
        return line

    def find_key_path(self, dotted: str) -> int | None:
        """The line of a dotted key path (`image.tag`) in the first document, if present."""
        docs = self._nodes()
        if not docs or docs[0] is None:
            return None
        node: yaml.Node = docs[0]
        line: int | None = None
        for key in dotted.split("."):
            child = _child(node, key)
            if child is None:
                return None
            line, node = child
        return line


def _child(node: yaml.Node, key: PathKey) -> tuple[int, yaml.Node] | None:
    if isinstance(node, yaml.MappingNode) and isinstance(key, str):
        for key_node, value_node in node.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.value == key:
                return key_node.start_mark.line + 1, value_node
        return None
    if isinstance(node, yaml.SequenceNode) and isinstance(key, int) and 0 <= key < len(node.value):
        item = node.value[key]
        return item.start_mark.line + 1, item
    return None
