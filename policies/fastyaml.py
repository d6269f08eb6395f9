"""Parse YAML with yaml-rs (Rust) where it gives exactly what PyYAML gives, else say so.

PyYAML's C loader still builds every value in Python and is most of the policy engine's
time on large inputs; yaml-rs builds them in Rust, several times faster. But yaml-rs reads
YAML 1.2, while PyYAML (like sigs.k8s.io/yaml, which kubectl and the API server use) reads
YAML 1.1: `yes`/`on`/`off` are booleans, `0755` is octal, `1:30` is sexagesimal, `1e3`
without a dot is text, tags and merge keys mean something. So a document is handed to
yaml-rs only when none of those can occur in it; any doubt returns None and the caller
parses with PyYAML. The test is conservative (a `!` inside a quoted string also sends that
document to PyYAML): a false alarm costs speed, never a different value.

Documents are parsed one by one (split on `---` lines), so one doubtful document does not
send a whole stream back to PyYAML, and the document count and order match PyYAML's (the
findings' line numbers come from PyYAML's composer, by document index).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

try:
    import yaml_rs
except ImportError:  # pragma: no cover (the project installs it; PyYAML alone still works)
    yaml_rs = None

# Where a token starts: the start of a line, after a space, or inside a flow collection.
_BOUNDARY = frozenset(" \n[{,")
# Syntax only one of the versions reads (tags, complex keys, merge keys, the value key `=`,
# a collection as a flow mapping's key; aliases, which yaml-rs does not follow into a
# cycle as PyYAML does), and leading-zero numbers (octal in 1.1, decimal in
# 1.2; 0o only in 1.2), each at the start of a token.
_SYNTAX = re.compile(r"[ \n\[{,](?:[!=*]|\? |<<)|\{ ?[\[{]")
# Searched as a literal first (a character class first would test every character): a `0`
# and what follows it, then the characters before it are judged.
_ZERO_AND_NEXT = re.compile(r"0[0-9A-Za-z_]")
# Exponents (1.1 needs a dot and a signed exponent), underscores and 1.1's sexagesimal
# (base 60) numbers after a digit or dot: each searched from its own literal, the digit
# before it judged after; then the token they are in is judged.
_NUMBER_HINTS = tuple(re.compile(p) for p in (r"e[-+]?[0-9]", r"E[-+]?[0-9]", r":[0-5]?[0-9]", "_"))
_TOKEN = re.compile(r"[^\s,\]}#]*")
_DIFFERENT_NUMBER = re.compile(
    r"[-+]?(?:[0-9_]*\.?[0-9_]*[eE][-+]?[0-9]+"
    r"|[0-9][0-9_]*_[0-9_]*(?:\.[0-9_]*)?"
    r"|[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?)"
)
_CONTENT = re.compile(r"^[ ]*[^\s#]", re.MULTILINE)
# YAML 1.1 booleans that YAML 1.2 reads as text, looked for as JSON strings (keys or values).
_BOOLEAN_WORDS = re.compile('"(?:yes|Yes|YES|no|No|NO|on|On|ON|off|Off|OFF)"')
# What PyYAML's reader refuses (control characters, lone surrogates); yaml-rs is laxer.
_NON_PRINTABLE = re.compile(
    "[^\x09\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]"
)


def _stream(text: str) -> tuple[str, int] | None:
    """The text framed by line breaks and its number of `---` separators, or None when the
    stream has what yaml-rs may read differently as a whole: directives, end markers,
    content after `---`, tabs, carriage returns, characters PyYAML refuses."""
    if "\t" in text or "\r" in text or "\n%" in text or "\n..." in text:
        return None
    if text.isascii():  # tabs and carriage returns are gone: printable ASCII or a line break
        if not text.replace("\n", "").isprintable():
            return None
    elif _NON_PRINTABLE.search(text):
        return None
    stream = "\n" + text if text.endswith("\n") else "\n" + text + "\n"
    if stream.startswith(("\n%", "\n...")):
        return None
    separators = stream.count("\n---\n")
    if stream.count("\n---") != separators:
        return None  # a `---` line with more on it (`--- |`, `--- # note`, `---  `)
    return stream, separators


def _split(stream: str) -> list[str]:
    """The documents' texts; each keeps its last line break (a block scalar ends with it)."""
    chunks = stream.split("\n---\n")
    return [chunk + "\n" for chunk in chunks[:-1]] + chunks[-1:]


def _leading_zero(text: str) -> bool:
    """A token starting with a zero and more (`0755`, `-08`, `0o7`, `0x1f`)."""
    for match in _ZERO_AND_NEXT.finditer(text):
        i = match.start()
        before = text[i - 1] if i else "\n"
        if before in _BOUNDARY or (before in "+-" and (i < 2 or text[i - 2] in _BOUNDARY)):
            return True
    return False


def _number_hints(text: str) -> list[int]:
    """Where a digit or dot is followed by an exponent, a `:` and digits, or a `_`."""
    return [
        m.start() - 1
        for hint in _NUMBER_HINTS
        for m in hint.finditer(text)
        if m.start() and text[m.start() - 1] in "0123456789."
    ]


def _doubtful(chunk: str) -> bool:
    """Whether a document may hold a token YAML 1.1 and 1.2 read differently (cheap tests
    first: most documents have none of the characters involved)."""
    text = "\n" + chunk
    if (
        "!" in text or "=" in text or "?" in text or "<" in text or "{" in text or "*" in text
    ) and (_SYNTAX.search(text)):
        return True
    if _leading_zero(text):
        return True
    for start in _number_hints(text):
        while start > 0 and text[start - 1] not in _BOUNDARY:
            start -= 1
        if text[start] in "0123456789+-.":
            token = _TOKEN.match(text, start)
            if token and _DIFFERENT_NUMBER.fullmatch(token.group(0).rstrip(":")):
                return True
    return False


def documents(text: str, pyyaml: Callable[[str], list[Any]]) -> list[Any] | None:
    """PyYAML's `load_all` result for `text` (timestamps as text), or None when the stream
    needs PyYAML as a whole (the caller parses it so, and PyYAML reports any error).
    `pyyaml(text)` parses one doubtful document with PyYAML."""
    framed = _stream(text) if yaml_rs is not None else None
    if framed is None:
        return None
    stream, separators = framed
    first = stream[: stream.find("\n---\n")] if separators else stream
    expected = separators + (1 if _CONTENT.search(first) else 0)
    whole = _whole_stream(text, expected) if expected >= 2 else None
    if whole is not None:
        return whole
    docs: list[Any] = []
    for index, chunk in enumerate(_split(stream)):
        value = _fast(chunk)
        if value is _DOUBT:
            try:
                docs += pyyaml(f"---\n{chunk}" if index else chunk)
            except Exception:  # PyYAML reports it again, with the stream's line numbers
                return None
        elif value is not _EMPTY:
            docs.append(value)
        elif index > 0:
            docs.append(None)  # `---` and then nothing is an empty document, as in PyYAML
    return docs


_DOUBT, _EMPTY = object(), object()


def _whole_stream(text: str, expected: int) -> list[Any] | None:
    """All `expected` (>= 2) documents in one yaml-rs call when none is doubtful (the
    common case: fewer calls, one encoding check). With two documents or more yaml-rs
    returns the list of documents (for one, a list document would look the same)."""
    value = _yaml_rs(text)
    if not isinstance(value, list) or len(value) != expected or _reads_differently(value):
        return None  # `_DOUBT` too
    return value


def _fast(chunk: str) -> Any:
    """One document's value from yaml-rs, `_EMPTY` when it has none, `_DOUBT` when PyYAML
    must read it."""
    value = _yaml_rs(chunk)
    if value is _DOUBT:
        return _DOUBT
    if value is None:
        return _DOUBT if _CONTENT.search(chunk) else _EMPTY  # `null` alone is a document
    return _DOUBT if _reads_differently(value) else value


def _yaml_rs(text: str) -> Any:
    """yaml-rs's value for `text` (timestamps as text, the last of duplicate keys, as
    PyYAML), or `_DOUBT` when the text or yaml-rs's reading of it needs PyYAML."""
    if _doubtful(text):
        return _DOUBT
    try:
        return yaml_rs.loads(
            text, parse_datetime=False, duplicate_key_policy=yaml_rs.DuplicateKeyPolicy.LastWins
        )
    except yaml_rs.YAMLDecodeError:
        return _DOUBT


def _reads_differently(value: Any) -> bool:
    """Whether the parsed value holds what YAML 1.1 reads otherwise: a boolean word (as a
    key or a value), or a complex key (PyYAML refuses an unhashable one). JSON encoding
    walks the value in C; a quoted "on" is found too, and only costs the fast path."""
    try:
        encoded = json.dumps(value, ensure_ascii=False, check_circular=False)
    except (TypeError, ValueError, RecursionError):
        return True  # a key JSON cannot hold (a list or mapping as a key), or a cycle
    return _BOOLEAN_WORDS.search(encoded) is not None
