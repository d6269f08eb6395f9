"""A small Go text/template evaluator for ApplicationSet templates and templatePatch.

Argo CD renders ApplicationSet templates with Go templates (+ sprig); this covers what
ApplicationSets use in practice: `{{ .a.b }}`, literals, pipelines into functions,
`if / else if / else / end`, whitespace trimming (`{{-`, `-}}`) and the common functions
(eq, ne, not, and, or, default, quote, lower, upper, toString, hasKey, empty). With
`strict` (missingkey=error) a missing key is an error, as in Argo CD. Anything else raises
`TemplateError` naming the construct, so the rule reports it instead of guessing.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable
from typing import Any

_ACTION = re.compile(r"\{\{(-?)\s*(.*?)\s*(-?)\}\}", re.DOTALL)


class TemplateError(ValueError):
    pass


class _Missing:
    pass


MISSING = _Missing()


def _truthy(value: Any) -> bool:
    return value not in (None, False, 0, "", [], {}) and value is not MISSING


FUNCS: dict[str, Callable[..., Any]] = {
    "eq": lambda a, *bs: any(a == b for b in bs),
    "ne": lambda a, b: a != b,
    "not": lambda a: not _truthy(a),
    "and": lambda *xs: next((x for x in xs if not _truthy(x)), xs[-1]),
    "or": lambda *xs: next((x for x in xs if _truthy(x)), xs[-1]),
    "default": lambda fallback, value=None: value if _truthy(value) else fallback,
    "quote": lambda *xs: " ".join(f'"{x}"' for x in xs),
    "lower": lambda s: str(s).lower(),
    "upper": lambda s: str(s).upper(),
    "toString": lambda s: _show(s),
    "hasKey": lambda d, k: isinstance(d, dict) and k in d,
    "empty": lambda x: not _truthy(x),
}


def _show(value: Any) -> str:
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return "<no value>"
    return str(value)


class _Renderer:
    def __init__(self, data: dict[str, Any], strict: bool) -> None:
        self.data = data
        self.strict = strict

    def field(self, path: str) -> Any:
        node: Any = self.data
        for part in path.strip(".").split(".") if path != "." else []:
            if isinstance(node, dict) and part in node:
                node = node[part]
            elif self.strict:
                raise TemplateError(f"map has no entry for key {part!r} (missingkey=error)")
            else:
                return None
        return node

    def term(self, word: str) -> Any:
        if word.startswith("."):
            return self.field(word)
        if word in ("true", "false"):
            return word == "true"
        if word == "nil":
            return None
        if re.fullmatch(r"-?\d+", word):
            return int(word)
        if re.fullmatch(r"-?\d+\.\d*", word):
            return float(word)
        if word in FUNCS:
            return FUNCS[word]()
        raise TemplateError(f"unsupported template term {word!r}")

    def command(self, words: list[str], piped: Any = MISSING) -> Any:
        head, args = words[0], words[1:]
        if head in FUNCS:
            values = [self.term_or_group(a) for a in args]
            if piped is not MISSING:
                values.append(piped)
            return FUNCS[head](*values)
        if head in ("range", "with", "define", "template", "block", "include", "tpl"):
            raise TemplateError(f"unsupported template action {head!r}")
        if args or piped is not MISSING:
            raise TemplateError(f"cannot call {head!r}")
        return self.term(head)

    def term_or_group(self, word: str) -> Any:
        if word.startswith("(") and word.endswith(")"):
            return self.pipeline(word[1:-1])
        return self.term(word)

    def pipeline(self, text: str) -> Any:
        value: Any = MISSING
        for part in _split_pipe(text):
            words = _words(part)
            if not words:
                raise TemplateError(f"empty command in {text!r}")
            value = self.command(words, value)
        return value


def _split_pipe(text: str) -> list[str]:
    parts, depth, quote, current = [], 0, "", ""
    for char in text:
        if quote:
            current += char
            if char == quote:
                quote = ""
            continue
        if char in "\"'`":
            quote = char
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "|" and depth == 0:
            parts.append(current.strip())
            current = ""
            continue
        current += char
    parts.append(current.strip())
    return parts


def _words(text: str) -> list[str]:
    words, depth, current = [], 0, ""
    for char in text:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char.isspace() and depth == 0:
            if current:
                words.append(current)
            current = ""
        else:
            current += char
    if current:
        words.append(current)
    out = []
    for word in words:
        if word[:1] in "\"'`":
            try:
                out.append(repr(shlex.split(word)[0]) if word[0] != "`" else repr(word[1:-1]))
            except ValueError:
                raise TemplateError(f"unterminated string {word}") from None
        else:
            out.append(word)
    return out


def render(text: str, data: dict[str, Any], strict: bool = True) -> str:
    """Render `text` with `data` as the dot; TemplateError on anything unsupported."""
    renderer = _Renderer(data, strict)
    original_term = renderer.term

    def term(word: str) -> Any:
        if word.startswith("'") and word.endswith("'"):
            return word[1:-1]
        return original_term(word)

    renderer.term = term  # type: ignore[method-assign]
    pieces: list[tuple[str, str]] = []  # ("text", s) or ("action", s)
    pos = 0
    for match in _ACTION.finditer(text):
        before = text[pos : match.start()]
        if match.group(1):
            before = before.rstrip()
        pieces.append(("text", before))
        pieces.append(("action", match.group(2)))
        pos = match.end()
        if match.group(3):
            rest = text[pos:]
            pos += len(rest) - len(rest.lstrip())
    pieces.append(("text", text[pos:]))
    out, _ = _block(pieces, 0, renderer, emit=True)
    return out


def _block(pieces: list[tuple[str, str]], i: int, r: _Renderer, emit: bool) -> tuple[str, int]:
    out: list[str] = []
    while i < len(pieces):
        kind, value = pieces[i]
        if kind == "text":
            if emit:
                out.append(value)
            i += 1
            continue
        if value.startswith("/*"):
            i += 1
            continue
        head = value.split(None, 1)[0] if value else ""
        if head in ("end", "else"):
            return "".join(out), i
        if head == "if":
            text, i = _if(pieces, i, r, emit)
            out.append(text)
            continue
        if emit:
            out.append(_show(r.pipeline(value)))
        i += 1
    return "".join(out), i


def _if(pieces: list[tuple[str, str]], i: int, r: _Renderer, emit: bool) -> tuple[str, int]:
    chosen = ""
    taken = False
    condition = pieces[i][1][2:].strip()
    i += 1
    while True:
        active = (
            emit and not taken and _truthy(r.pipeline(condition))
            if condition
            else emit and not taken
        )
        text, i = _block(pieces, i, r, active)
        if active:
            chosen, taken = text, True
        if i >= len(pieces):
            raise TemplateError("{{ if }} without {{ end }}")
        head = pieces[i][1]
        i += 1
        if head == "end":
            return chosen, i
        if head == "else":
            condition = ""
        elif head.startswith("else if "):
            condition = head[len("else if ") :].strip()
        else:
            raise TemplateError(f"unexpected {{{{ {head} }}}}")
