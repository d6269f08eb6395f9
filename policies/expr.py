"""Evaluate Argo Rollouts analysis conditions the way the controller does.

Argo Rollouts evaluates `successCondition` / `failureCondition` with expr-lang
(github.com/expr-lang/expr) over `result` (a float for a Prometheus scalar, a list of
floats for a vector: `[]` when no series matched) and the helpers `isNaN`, `isInf`,
`isNil`, `asInt`, `asFloat`, `default`. This module implements the part of that language
conditions use (operators and precedences of expr-lang's parser, short-circuit `&&`/`||`,
negative indices, builtins with `{# ...}` predicates), so the static tier can *run* a
condition on probe values (0.99, 0.9899, NaN, no data) instead of pattern-matching its text.
`measure()` mirrors `utils/evaluate.EvaluateResult` (Successful / Failed / Inconclusive /
Error). Anything outside the subset raises `ExprError`, which counts as Error there too.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from policies.lexing import scan


class ExprError(Exception):
    """A condition that does not compile or fails at run time (an Error measurement)."""


class Phase(StrEnum):
    SUCCESSFUL = "Successful"
    FAILED = "Failed"
    INCONCLUSIVE = "Inconclusive"
    ERROR = "Error"


_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<number>(?:\d[\d_]*\.?[\d_]*|\.\d[\d_]*)(?:[eE][+-]?\d+)?)
  | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)
  | (?P<ident>[A-Za-z_$][A-Za-z0-9_$]*)
  | (?P<op>\*\*|\?\?|\?\.|&&|\|\||==|!=|<=|>=|\.\.|[-+*/%^<>!()\[\]{},.?:\#|])
    """,
    re.VERBOSE,
)

BINARY: dict[str, int] = {
    "or": 10,
    "||": 10,
    "and": 15,
    "&&": 15,
    "==": 20,
    "!=": 20,
    "<": 20,
    ">": 20,
    ">=": 20,
    "<=": 20,
    "in": 20,
    "matches": 20,
    "contains": 20,
    "startsWith": 20,
    "endsWith": 20,
    "..": 25,
    "+": 30,
    "-": 30,
    "*": 60,
    "/": 60,
    "%": 60,
    "**": 100,
    "^": 100,
    "??": 500,
}
RIGHT_ASSOC = {"**", "^"}
UNARY: dict[str, int] = {"not": 50, "!": 50, "-": 90, "+": 90}
WORD_OPS = {"or", "and", "in", "matches", "contains", "startsWith", "endsWith", "not"}


@dataclass(frozen=True, slots=True)
class Token:
    kind: str  # number, string, ident, op, end
    value: str
    pos: int


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    for match in scan(_TOKEN, text, ExprError):
        kind = match.lastgroup or ""
        value = match.group()
        if kind == "ident" and value in WORD_OPS:
            kind = "op"
        tokens.append(Token(kind, value, match.start()))
    tokens.append(Token("end", "", len(text)))
    return tokens


Node = Callable[[dict[str, Any]], Any]


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = tokenize(text)
        self.i = 0

    @property
    def cur(self) -> Token:
        return self.tokens[self.i]

    def take(self, value: str | None = None) -> Token:
        tok = self.cur
        if value is not None and tok.value != value:
            raise ExprError(f"expected {value!r} at {tok.pos + 1}, found {tok.value or 'end'!r}")
        self.i += 1
        return tok

    def parse(self) -> Node:
        node = self.expression(0)
        if self.cur.kind != "end":
            raise ExprError(f"unexpected {self.cur.value!r} at {self.cur.pos + 1}")
        return node

    def expression(self, precedence: int) -> Node:
        left = self.unary()
        while True:
            tok = self.cur
            if tok.kind != "op":
                break
            op = tok.value
            negate = False
            if op == "not" and self.tokens[self.i + 1].value in {
                "in",
                "matches",
                "contains",
                "startsWith",
                "endsWith",
            }:
                negate = True
                self.take()
                op = self.cur.value
            if op not in BINARY or BINARY[op] < precedence:
                if negate:
                    raise ExprError(f"unexpected 'not' at {tok.pos + 1}")
                break
            self.take()
            nxt = BINARY[op] if op in RIGHT_ASSOC else BINARY[op] + 1
            right = self.expression(nxt)
            left = _binary(op, left, right)
            if negate:
                left = _negated(left)
        if precedence == 0 and self.cur.value == "?":
            self.take()
            then = self.expression(0)
            self.take(":")
            other = self.expression(0)
            cond = left
            left = lambda env: then(env) if _truth(cond(env)) else other(env)  # noqa: E731
        return left

    def unary(self) -> Node:
        tok = self.cur
        if tok.kind == "op" and tok.value in UNARY:
            self.take()
            operand = self.expression(UNARY[tok.value])
            if tok.value in {"not", "!"}:
                return lambda env: not _truth(operand(env))
            if tok.value == "-":
                return lambda env: -_number(operand(env))
            return lambda env: _number(operand(env))
        return self.postfix(self.primary())

    def primary(self) -> Node:
        tok = self.take()
        if tok.kind == "number":
            text = tok.value.replace("_", "")
            value: Any = float(text) if any(c in text for c in ".eE") else int(text)
            return lambda env: value
        if tok.kind == "string":
            literal = _unquote(tok.value)
            return lambda env: literal
        if tok.kind == "ident":
            name = tok.value
            if name in {"true", "false"}:
                flag = name == "true"
                return lambda env: flag
            if name == "nil":
                return lambda env: None
            if self.cur.value == "(":
                return self.call(name)
            return lambda env: _lookup(env, name)
        if tok.value == "(":
            node = self.expression(0)
            self.take(")")
            return node
        if tok.value == "[":
            items: list[Node] = []
            while self.cur.value != "]":
                items.append(self.expression(0))
                if self.cur.value != ",":
                    break
                self.take(",")
            self.take("]")
            return lambda env: [item(env) for item in items]
        if tok.value == "#":
            return lambda env: _lookup(env, "#")
        if tok.value == ".":  # `.field` inside a predicate means `#.field`
            field = self.take().value
            return lambda env: _member(_lookup(env, "#"), field, optional=False)
        raise ExprError(f"unexpected {tok.value or 'end'!r} at {tok.pos + 1}")

    def call(self, name: str) -> Node:
        self.take("(")
        args: list[Node] = []
        while self.cur.value != ")":
            if self.cur.value == "{":
                self.take("{")
                body = self.expression(0)
                self.take("}")
                args.append(_Closure(body))
            else:
                args.append(self.expression(0))
            if self.cur.value != ",":
                break
            self.take(",")
        self.take(")")
        return _call(name, args)

    def postfix(self, node: Node) -> Node:
        while True:
            tok = self.cur
            if tok.value in {".", "?."}:
                self.take()
                field = self.take().value
                optional = tok.value == "?."
                node = (lambda base, f, o: lambda env: _member(base(env), f, o))(
                    node, field, optional
                )
            elif tok.value == "[":
                self.take()
                index = self.expression(0)
                self.take("]")
                node = (lambda base, idx: lambda env: _index(base(env), idx(env)))(node, index)
            else:
                return node


def _negated(inner: Node) -> Node:
    return lambda env: not _truth(inner(env))


class _Closure:
    """A `{ ... }` predicate argument; `#` is the current element."""

    def __init__(self, body: Node) -> None:
        self.body = body

    def __call__(self, env: dict[str, Any]) -> Any:
        return self

    def apply(self, env: dict[str, Any], item: Any) -> Any:
        return self.body({**env, "#": item})


def _unquote(text: str) -> str:
    if text.startswith("`"):
        return text[1:-1]
    body = text[1:-1]
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t"}.get(m.group(1), m.group(1)), body)


def _lookup(env: dict[str, Any], name: str) -> Any:
    if name not in env:
        raise ExprError(f"unknown name {name}")
    return env[name]


def _member(base: Any, field: str, optional: bool) -> Any:
    if base is None and optional:
        return None
    if isinstance(base, dict):
        return base.get(field)
    raise ExprError(f"cannot fetch {field} from {_type(base)}")


def _index(base: Any, index: Any) -> Any:
    if isinstance(base, (list, str)):
        if not isinstance(index, int) or isinstance(index, bool):
            raise ExprError(f"invalid index {index!r}")
        position = index + len(base) if index < 0 else index
        if not 0 <= position < len(base):
            raise ExprError(f"index out of range: {index} (array length is {len(base)})")
        return base[position]
    if isinstance(base, dict):
        return base.get(index)
    raise ExprError(f"cannot index {_type(base)}")


def _type(value: Any) -> str:
    if value is None:
        return "nil"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float64"
    if isinstance(value, list):
        return "[]interface {}"
    return type(value).__name__


def _truth(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ExprError(f"expected bool, got {_type(value)}")
    return value


def _number(value: Any) -> float | int:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ExprError(f"expected a number, got {_type(value)}")
    return value


def _compare(op: str, a: Any, b: Any) -> bool:
    numeric = all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in (a, b))
    strings = isinstance(a, str) and isinstance(b, str)
    if not (numeric or strings):
        raise ExprError(f"invalid operation: {_type(a)} {op} {_type(b)}")
    if op == "<":
        return bool(a < b)
    if op == ">":
        return bool(a > b)
    if op == "<=":
        return bool(a <= b)
    return bool(a >= b)


def _arith(op: str, a: Any, b: Any) -> Any:
    if op == "+" and isinstance(a, str) and isinstance(b, str):
        return a + b
    x, y = _number(a), _number(b)
    if op == "+":
        return x + y
    if op == "-":
        return x - y
    if op == "*":
        return x * y
    if op == "/":
        return x / y if y != 0 else (math.nan if x == 0 else math.copysign(math.inf, x))
    if op == "%":
        if not isinstance(x, int) or not isinstance(y, int):
            raise ExprError("invalid operation: % on floats")
        if y == 0:
            raise ExprError("integer divide by zero")
        return int(math.fmod(x, y))
    return float(x) ** float(y)


def _binary(op: str, left: Node, right: Node) -> Node:
    if op in {"&&", "and"}:
        return lambda env: _truth(left(env)) and _truth(right(env))
    if op in {"||", "or"}:
        return lambda env: _truth(left(env)) or _truth(right(env))
    if op == "==":
        return lambda env: _equal(left(env), right(env))
    if op == "!=":
        return lambda env: not _equal(left(env), right(env))
    if op in {"<", ">", "<=", ">="}:
        return lambda env: _compare(op, left(env), right(env))
    if op == "??":
        return lambda env: _coalesce(left, right, env)
    if op == "in":
        return lambda env: _contains(right(env), left(env))
    if op == "contains":
        return lambda env: str(right(env)) in str(left(env))
    if op == "startsWith":
        return lambda env: str(left(env)).startswith(str(right(env)))
    if op == "endsWith":
        return lambda env: str(left(env)).endswith(str(right(env)))
    if op == "matches":
        return lambda env: re.search(str(right(env)), str(left(env))) is not None
    if op == "..":
        return lambda env: list(range(int(_number(left(env))), int(_number(right(env))) + 1))
    arith = "**" if op == "^" else op
    return lambda env: _arith(arith, left(env), right(env))


def _coalesce(left: Node, right: Node, env: dict[str, Any]) -> Any:
    try:
        value = left(env)
    except ExprError:
        value = None
    return right(env) if value is None else value


def _equal(a: Any, b: Any) -> bool:
    numbers = all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in (a, b))
    if numbers:
        return bool(a == b)
    if type(a) is not type(b) and a is not None and b is not None:
        return False
    return bool(a == b)


def _contains(container: Any, item: Any) -> bool:
    if isinstance(container, dict):
        return item in container
    if isinstance(container, list):
        return any(_equal(item, x) for x in container)
    raise ExprError(f"operator in not defined on {_type(container)}")


def _sequence(value: Any, name: str) -> Sequence[Any]:
    if not isinstance(value, list):
        raise ExprError(f"{name}: expected an array, got {_type(value)}")
    return value


def _call(name: str, args: list[Node]) -> Node:
    predicates = {"all", "any", "none", "one", "filter", "map", "count", "find"}
    if name in predicates:
        if len(args) != 2 or not isinstance(args[1], _Closure):
            raise ExprError(f"{name}() takes an array and a {{predicate}}")
        seq_node, closure = args[0], args[1]

        def run_predicate(env: dict[str, Any]) -> Any:
            items = _sequence(seq_node(env), name)
            results = [closure.apply(env, item) for item in items]
            if name == "map":
                return results
            flags = [_truth(r) for r in results]
            if name == "all":
                return all(flags)
            if name == "any":
                return any(flags)
            if name == "none":
                return not any(flags)
            if name == "one":
                return flags.count(True) == 1
            if name == "count":
                return flags.count(True)
            if name == "find":
                return next((i for i, f in zip(items, flags, strict=True) if f), None)
            return [i for i, f in zip(items, flags, strict=True) if f]

        return run_predicate
    fn = FUNCTIONS.get(name)
    if fn is None:
        raise ExprError(f"unknown function {name}()")
    return lambda env: fn(env, *[a(env) for a in args])


def _len(env: dict[str, Any], value: Any) -> int:
    if isinstance(value, (list, str, dict)):
        return len(value)
    raise ExprError(f"invalid argument for len (type {_type(value)})")


def _float_arg(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ExprError(f"{name}: expected float64, got {_type(value)}")
    return float(value)


def _as_float(env: dict[str, Any], value: Any) -> float:
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            raise ExprError(f"asFloat: cannot parse {value!r}") from None
    return _float_arg(value, "asFloat")


def _as_int(env: dict[str, Any], value: Any) -> int:
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            raise ExprError(f"asInt: cannot parse {value!r}") from None
    number = _float_arg(value, "asInt")
    if math.isnan(number) or math.isinf(number):
        return -(2**63)  # Go's int64(NaN) on amd64
    return int(number)


def _min_max(pick: Callable[..., Any]) -> Callable[..., Any]:
    def fn(env: dict[str, Any], *values: Any) -> Any:
        flat = list(values[0]) if len(values) == 1 and isinstance(values[0], list) else list(values)
        if not flat:
            raise ExprError("not enough arguments")
        return pick(_number(v) for v in flat)

    return fn


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "len": _len,
    "isNaN": lambda env, v: math.isnan(_float_arg(v, "isNaN")),
    "isInf": lambda env, v: math.isinf(_float_arg(v, "isInf")),
    "isNil": lambda env, _v: env.get("result") is None,
    "default": lambda env, _v, fallback: fallback if env.get("result") is None else env["result"],
    "asFloat": _as_float,
    "asInt": _as_int,
    "abs": lambda env, v: abs(_number(v)),
    "float": lambda env, v: float(_number(v)) if not isinstance(v, str) else _as_float(env, v),
    "int": lambda env, v: int(_number(v)) if not isinstance(v, str) else _as_int(env, v),
    "string": lambda env, v: str(v),
    "max": _min_max(max),
    "min": _min_max(min),
    "sum": lambda env, v: sum(_number(x) for x in _sequence(v, "sum")),
    "first": lambda env, v: _sequence(v, "first")[0] if v else None,
    "last": lambda env, v: _sequence(v, "last")[-1] if v else None,
}


def compile_condition(text: str) -> Node:
    """Parse a condition once; the returned callable takes the evaluation environment."""
    return _Parser(text).parse()


def evaluate(condition: str, result: Any) -> bool:
    """The condition's value for `result`, or ExprError (as EvalCondition reports it)."""
    value = compile_condition(condition)({"result": result})
    if not isinstance(value, bool):
        raise ExprError(f"expected bool, but got {_type(value)}")
    return value


def measure(success: str | None, failure: str | None, result: Any) -> Phase:
    """The measurement phase Argo Rollouts assigns (utils/evaluate.EvaluateResult)."""
    ok = bad = False
    try:
        if success:
            ok = evaluate(success, result)
        if failure:
            bad = evaluate(failure, result)
    except ExprError:
        return Phase.ERROR
    if not success and not failure:
        return Phase.SUCCESSFUL
    if success and not failure:
        bad = not ok
    elif failure and not success:
        ok = not bad
    if bad:
        return Phase.FAILED
    if not ok:
        return Phase.INCONCLUSIVE
    return Phase.SUCCESSFUL
