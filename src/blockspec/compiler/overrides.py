"""Overrides of `let`s from the API (``overrides={"C": 64}``) and the command line
(``--set C=64``), as expressions placed in the pseudo-file ``<overrides>``.

Keeping them as expressions lets the canonical text (`model.spec`) carry them, and lets an
error point at the override that caused it.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import Span, SpecError, SpecSyntaxError, SpecValueError
from . import ast as A
from .printer import format_expr

__all__ = ["OverrideText", "override_exprs", "freeze"]


def override_exprs(overrides: Mapping[str, Any] | None) -> dict[str, A.Expr]:
    """API/CLI overrides as expressions; each gets a line of the pseudo-file <overrides>.

    Keeping them as expressions lets the canonical text (`model.spec`) carry them.
    """
    if not overrides:
        return {}
    lines = []
    for name, v in overrides.items():
        if isinstance(v, OverrideText):
            text = v.text
        else:  # written as the spec would write it: true, [8, 8, 1], "T1L1"
            text = format_expr(_python_expr(v, Span(1, 1, 1, "<overrides>", "")))
        lines.append(f"{name}={text}")
    source = "\n".join(lines)
    out: dict[str, A.Expr] = {}
    for i, (name, v) in enumerate(overrides.items(), start=1):
        span = Span(
            i, len(name) + 2, max(1, len(lines[i - 1]) - len(name) - 1), "<overrides>", source
        )
        out[name] = v.parse(i, source) if isinstance(v, OverrideText) else _python_expr(v, span)
    return out


def _python_expr(obj: Any, span: Span) -> A.Expr:
    """A Python override value as the expression that writes it."""
    if isinstance(obj, bool):
        return A.BoolLit(obj, span)
    if isinstance(obj, int | float):
        if isinstance(obj, float) and not math.isfinite(obj):
            raise SpecValueError(f"{obj} is not a finite number", span)
        lit = (
            A.IntLit(abs(obj), str(abs(obj)), span)
            if isinstance(obj, int)
            else A.FloatLit(abs(obj), repr(abs(obj)), span)
        )
        return A.Neg(lit, span) if obj < 0 else lit
    if isinstance(obj, str):
        if '"' in obj or "\n" in obj:
            raise SpecValueError("a string value cannot hold a quote or a new line", span)
        return A.StrLit(obj, span)
    if isinstance(obj, list | tuple):
        return A.ListExpr(tuple(_python_expr(o, span) for o in obj), span)
    raise SpecValueError(
        f"cannot use a {type(obj).__name__} as a value",
        span,
        "overrides take numbers, bools, strings and lists",
    )


@dataclass(frozen=True)
class OverrideText:
    """An override written as text (``--set C=64``): the value is parsed as an expression."""

    text: str

    def parse(self, line: int, source: str) -> A.Expr:
        """The value as an expression placed on `line` of the <overrides> pseudo-file."""
        start = source.split("\n")[line - 1].index("=") + 2  # column of the value
        here = Span(line, start, max(1, len(self.text)), "<overrides>", source)
        if "\n" in self.text or not self.text.strip():
            raise SpecSyntaxError(
                "an override is one expression on one line", here, "write NAME=VALUE, e.g. C=64"
            )
        dcol = start - 1 - len("let _=")
        try:
            spec = A.parse_spec(f"let _={self.text}", "<overrides>")
        except SpecError as err:
            sp = err.span or here
            err.span = Span(line, max(start, sp.column + dcol), sp.length, "<overrides>", source)
            err.errors = [err]
            raise err from None
        if len(spec.statements) != 1:
            raise SpecSyntaxError(
                "an override is one expression", here, "write NAME=VALUE, e.g. C=64"
            )
        expr = spec.statements[0].value  # type: ignore[union-attr]
        return _shift(expr, line, dcol, source)


def _shift(expr: A.Expr, line: int, dcol: int, source: str) -> A.Expr:
    """Move an expression parsed from a one-line override to its place in <overrides>."""

    def fix(sp: Span) -> Span:
        return Span(line, sp.column + dcol, sp.length, "<overrides>", source)

    changes: dict[str, Any] = {"span": fix(expr.span)}
    if isinstance(expr, A.BinOp):
        changes.update(
            left=_shift(expr.left, line, dcol, source),
            right=_shift(expr.right, line, dcol, source),
            op_span=fix(expr.op_span),
        )
    elif isinstance(expr, A.Neg):
        changes["operand"] = _shift(expr.operand, line, dcol, source)
    elif isinstance(expr, A.ListExpr):
        changes["items"] = tuple(_shift(i, line, dcol, source) for i in expr.items)
    return dataclasses.replace(expr, **changes)


def freeze(overrides: Mapping[str, Any] | None) -> tuple:
    """Overrides as a hashable key (for the parse cache), their types checked first."""
    if not overrides:
        return ()
    if not isinstance(overrides, Mapping):
        raise SpecValueError("overrides must be a mapping of let names to values")

    names = [str(n) for n in overrides]
    source = "\n".join(f"{n}=..." for n in names)  # what <overrides> shows for a bad value

    def check(line: int, name: object, v: object) -> None:
        if not isinstance(name, str):
            raise SpecValueError(f"an override names a let by a str, not {name!r}")
        if isinstance(v, list | tuple):
            for item in v:
                check(line, name, item)
        elif not isinstance(v, bool | int | float | str | OverrideText):
            raise SpecValueError(
                f"override {name}: cannot use a {type(v).__name__} as a value",
                Span(line, 1, max(1, len(name)), "<overrides>", source),
                "overrides take numbers, bools, strings and lists",
            )

    for line, (name, v) in enumerate(overrides.items(), start=1):
        check(line, name, v)

    def fz(v):
        return tuple(fz(x) for x in v) if isinstance(v, list | tuple) else v

    return tuple((k, fz(v)) for k, v in overrides.items())
