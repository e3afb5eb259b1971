"""Operator precedence of spec expressions: what the evaluator's nesting limit and the
printer's parentheses both follow."""

from __future__ import annotations

from . import ast as A

__all__ = ["PRECEDENCE", "needs_parens"]

#: binary operator -> binding strength (unary minus binds at 3, atoms at 5)
PRECEDENCE = {"+": 1, "-": 1, "*": 2, "/": 2, "//": 2, "%": 2, "**": 4}


def _prec(e: A.Expr) -> int:
    if isinstance(e, A.BinOp):
        return PRECEDENCE[e.op]
    if isinstance(e, A.Neg):
        return 3
    return 5


def needs_parens(parent: A.Expr, child: A.Expr) -> bool:
    """Whether `child` must be parenthesised under `parent` to keep its meaning."""
    if isinstance(parent, A.Neg):
        return _prec(child) < 3
    if not isinstance(parent, A.BinOp):
        return False
    p = PRECEDENCE[parent.op]
    if parent.op == "**":
        return _prec(child) <= 4 if child is parent.left else _prec(child) < 3
    return _prec(child) < p if child is parent.left else _prec(child) <= p
