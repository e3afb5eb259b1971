"""Evaluating expressions and `let`s (the checks of what a key accepts are in `checks`).

Expressions have Python's meaning on numbers only. Every limit of LANGUAGE.md (magnitude below
2**63, operator count, nesting) is checked before the work is done, so no input can hang or
blow up the evaluator.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from .. import language as L
from ..errors import Span, SpecError, SpecValueError
from . import ast as A
from .diagnostics import Consequence, did_you_mean
from .precedence import needs_parens

__all__ = [
    "Value", "Symbol", "DYN", "RESERVED", "VALUE_NAMES", "MAX_MAGNITUDE", "evaluate_lets",
    "evaluate", "check_limits", "describe", "value_error",
]  # fmt: skip

MAX_MAGNITUDE = L.MAX_MAGNITUDE
MAX_OPERATORS = L.MAX_OPERATORS
MAX_NESTING = L.MAX_NESTING
RESERVED = L.RESERVED
#: names that stand for values of some key; a `let` may not take them
VALUE_NAMES = L.VALUE_NAMES


class Symbol(str):
    """A bare value name such as ``layer`` or ``gelu`` (not a `let`)."""


class _Poison:
    """The value of a `let` whose own evaluation failed (that error is already reported)."""


POISON = _Poison()


class _Dyn:
    def __repr__(self) -> str:
        return "?"


DYN = _Dyn()


@dataclass(frozen=True)
class Value:
    """An evaluated value with the place it was used (`span`) and where it came from."""

    v: object  # int | float | bool | str | Symbol | DYN | tuple[Value, ...]
    span: Span
    lit: A.Expr | None = None  # the literal that wrote it (a StrLit for block strings)
    let: str | None = None  # the `let` it was read from

    def describe(self) -> str:
        return describe(self.v)


def describe(v: object) -> str:
    if isinstance(v, bool):
        return f"the bool {'true' if v else 'false'}"
    if isinstance(v, int):
        return f"the integer {v}"
    if isinstance(v, float):
        return f"the number {v!r}" if v.is_integer() else f"the number {v:g}"
    if isinstance(v, Symbol):
        return f"the name '{v}'"
    if isinstance(v, str):
        return f'the string "{v}"'
    if v is DYN:
        return "'?'"
    if isinstance(v, tuple):
        return "a list"
    return repr(v)


def value_error(msg: str, val: Value | A.Expr | Span, hint: str | None = None) -> SpecValueError:
    span = val if isinstance(val, Span) else val.span
    if isinstance(val, Value) and val.let:
        note = f"the value comes from 'let {val.let}'"
        hint = f"{hint}; {note}" if hint else note
    return SpecValueError(msg, span, hint)


# ----------------------------------------------------------------------------- limits
def check_limits(expr: A.Expr) -> None:
    """Reject expressions with too many operators or too deep a nesting, iteratively.

    Nesting counts parentheses (a sub-expression that needs them to keep its meaning) and
    lists; a flat chain such as ``1 + 2 + 3`` does not nest.
    """
    ops = 0
    stack: list[A.Expr] = [expr]
    while stack:
        node = stack.pop()
        if isinstance(node, (A.BinOp, A.Neg)):
            ops += 1
            if ops > MAX_OPERATORS:
                raise value_error(
                    f"expression has more than {MAX_OPERATORS} operators",
                    expr,
                    "split it into several lets",
                )
        stack.extend(_children(node))
    deep: list[tuple[A.Expr, int]] = [(expr, int(isinstance(expr, A.ListExpr)))]
    while deep:
        node, depth = deep.pop()
        if depth > MAX_NESTING:
            raise value_error(
                f"expression nests deeper than {MAX_NESTING} levels",
                node,
                "split it into several lets",
            )
        for child in _children(node):
            nested = isinstance(child, A.ListExpr) + needs_parens(node, child)
            deep.append((child, depth + nested))


def _children(node: A.Expr) -> tuple[A.Expr, ...]:
    if isinstance(node, A.BinOp):
        return (node.left, node.right)
    if isinstance(node, A.Neg):
        return (node.operand,)
    if isinstance(node, A.ListExpr):
        return node.items
    return ()


# ----------------------------------------------------------------------------- evaluation
def _at_use(bound: Value, span: Span, let: str) -> Value:
    """A let's value seen from a use site: errors point there and name the let (list items
    too); block-string literals keep their own place, inside the let's string."""
    v = bound.v
    if isinstance(v, tuple):
        v = tuple(_at_use(item, span, let) for item in v)
    return Value(v, span, bound.lit, let)


def _number(val: Value, op_span: Span, op: str) -> int | float:
    v = val.v
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise value_error(
            f"'{op}' applies to numbers, not to {describe(v)}",
            val,
            "operators take integers or floats only",
        )
    return v


def _check_magnitude(x: int | float, span: Span) -> int | float:
    if isinstance(x, float) and (math.isnan(x) or math.isinf(x)):
        raise SpecValueError("the result is not a finite number", span, "keep values below 2**63")
    if abs(x) >= MAX_MAGNITUDE:
        raise SpecValueError(
            "the result is too large (2**63 or more in magnitude)",
            span,
            "every intermediate result must stay below 2**63",
        )
    return x


def _power(a: int | float, b: int | float, span: Span) -> int | float:
    if a == 0 and b < 0:
        raise SpecValueError("0 raised to a negative power", span, "division by zero")
    # |a ** b| = 2 ** (b * log2|a|): bound it before computing (covers |a| < 1 with b < 0)
    if a != 0 and abs(a) != 1 and b * math.log2(abs(a)) >= 63:
        _check_magnitude(float(MAX_MAGNITUDE), span)
    if isinstance(a, int) and isinstance(b, int) and b >= 0:
        return a**b
    if a < 0 and not float(b).is_integer():
        raise SpecValueError(
            "a negative number raised to a fractional power", span, "not a real number"
        )
    try:
        r = float(a) ** float(b)
    except (OverflowError, ZeroDivisionError) as exc:
        raise SpecValueError(f"cannot compute the power: {exc}", span) from None
    return r


def _binop(op: str, a: int | float, b: int | float, span: Span) -> int | float:
    if op in ("/", "//", "%") and b == 0:
        raise SpecValueError("division by zero", span)
    if op == "+":
        r = a + b
    elif op == "-":
        r = a - b
    elif op == "*":
        # bound the product before computing it (ints are exact and unbounded in Python)
        if a and b and math.log2(abs(a)) + math.log2(abs(b)) >= 64:
            _check_magnitude(float(MAX_MAGNITUDE), span)
        r = a * b
    elif op == "/":
        r = a / b
    elif op == "//":
        r = a // b
    elif op == "%":
        r = a % b
    else:
        r = _power(a, b, span)
    return _check_magnitude(r, span)


def evaluate(expr: A.Expr, env: Mapping[str, Value]) -> Value:
    """Evaluate `expr`; names are looked up in `env` (the `let`s defined so far)."""
    check_limits(expr)
    return _eval(expr, env)


def _eval(expr: A.Expr, env: Mapping[str, Value]) -> Value:
    if isinstance(expr, A.IntLit):
        digits = expr.text.lstrip("+-")
        if len(digits) > 19:
            raise value_error(
                "integer literal with more than 19 digits", expr, "integers are below 2**63"
            )
        return Value(_check_magnitude(expr.value, expr.span), expr.span, expr)
    if isinstance(expr, A.FloatLit):
        return Value(_check_magnitude(expr.value, expr.span), expr.span, expr)
    if isinstance(expr, A.StrLit):
        return Value(expr.value, expr.span, expr)
    if isinstance(expr, A.BoolLit):
        return Value(expr.value, expr.span, expr)
    if isinstance(expr, A.Dynamic):
        return Value(DYN, expr.span, expr)
    if isinstance(expr, A.NameRef):
        if expr.name in env:
            bound = env[expr.name]
            if bound.v is POISON:
                raise Consequence(f"'{expr.name}' has no value", expr.span)
            return _at_use(bound, expr.span, expr.name)
        return Value(Symbol(expr.name), expr.span, expr)
    if isinstance(expr, A.ListExpr):
        return Value(tuple(_eval(i, env) for i in expr.items), expr.span, expr)
    if isinstance(expr, A.Neg):
        inner = _eval(expr.operand, env)
        return Value(-_number(inner, expr.span, "-"), expr.span)
    if isinstance(expr, A.BinOp):
        left = _eval(expr.left, env)
        right = _eval(expr.right, env)
        a = _number(left, expr.op_span, expr.op)
        b = _number(right, expr.op_span, expr.op)
        return Value(_binop(expr.op, a, b, expr.op_span), expr.span)
    raise TypeError(f"not an expression: {expr!r}")  # pragma: no cover


def check_let_name(name: str, span: Span) -> None:
    if name in RESERVED:
        raise SpecValueError(
            f"'{name}' is a reserved word", span, "choose another name for the let"
        )
    if name in VALUE_NAMES:
        raise SpecValueError(
            f"'{name}' is a value name of the language",
            span,
            "a let may not shadow a value name; choose another name",
        )


def evaluate_lets(
    lets: Sequence[A.Let], overrides: Mapping[str, Value]
) -> tuple[dict[str, Value], list[SpecError]]:
    """Evaluate the `let`s in order, with `overrides` replacing their values by name.

    Returns the environment and the errors found (every let is tried).
    """
    env: dict[str, Value] = {}
    errors: list[SpecError] = []
    seen: dict[str, A.Let] = {}
    for let in lets:
        try:
            check_let_name(let.name, let.name_span)
            if let.name in seen:
                first = seen[let.name]
                raise SpecValueError(
                    f"'{let.name}' is defined twice",
                    let.name_span,
                    f"the first definition is on line {first.name_span.line}",
                )
            seen[let.name] = let
            if let.name in overrides:
                val = overrides[let.name]
            else:
                val = evaluate(let.value, env)
            _check_let_value(val)
            env[let.name] = Value(val.v, val.span, val.lit, None)
        except SpecError as e:
            errors.append(e)
            if let.name not in env:
                env[let.name] = Value(POISON, let.name_span)  # uses stay quiet
    for name, val in overrides.items():
        if name not in seen:
            errors.append(
                SpecValueError(
                    f"override of an unknown let '{name}'",
                    val.span,
                    did_you_mean(name, seen) if seen else "this spec defines no let",
                )
            )
    return env, errors


def _check_let_value(val: Value) -> None:
    v = val.v
    if isinstance(v, Symbol):
        raise value_error(
            f"unknown name '{v}'",
            val,
            "a let holds a number, bool, string or list; define lets before using them",
        )
    if v is DYN:
        raise value_error("'?' is only allowed in the input section", val)
    if isinstance(v, tuple):
        for item in v:
            _check_let_value(item)


# ----------------------------------------------------------------------------- conversions
