"""Checking an evaluated value against what a key accepts: one function per value type.

Each raises a `SpecValueError` at the value's place, saying what was expected, what was
written and, when the value came from a `let`, which one.
"""

from __future__ import annotations

from collections.abc import Sequence

from . import ast as A
from .diagnostics import did_you_mean
from .values import DYN, Symbol, Value, describe
from .values import value_error as _err

__all__ = ["as_int", "as_float", "as_bool", "as_name", "as_int_list", "as_size", "as_string"]


def _is_int(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def as_int(val: Value, key: str, minimum: int = 1) -> int:
    v = val.v
    if not _is_int(v):
        hint = f"{key} takes an integer"
        if isinstance(v, float) and isinstance(val.lit, A.FloatLit):
            whole = f": write {int(v)}" if v.is_integer() else ""
            hint += f"; {val.lit.text} is written with a fraction{whole}"
        elif isinstance(v, float):
            hint += "; '/' always gives a number with a fraction: use '//' for integers"
        if isinstance(v, Symbol):
            hint += f"; '{v}' is neither a let nor a value of {key}"
        raise _err(f"{key} must be an integer, not {describe(v)}", val, hint)
    if v < minimum:
        raise _err(f"{key} must be at least {minimum}, not {v}", val, f"use a value >= {minimum}")
    return v  # type: ignore[return-value]


def as_float(
    val: Value, key: str, low: float, high: float | None, low_open: bool, high_open: bool
) -> float:
    v = val.v
    lo = "(" if low_open else "["
    hi = ")" if high_open or high is None else "]"  # no number is inf
    rng = f"{lo}{low:g}, {'inf' if high is None else f'{high:g}'}{hi}"
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        hint = f"{key} takes a number in {rng}"
        if isinstance(v, Symbol):
            hint += f"; '{v}' is neither a let nor a value of {key}"
        raise _err(f"{key} must be a number, not {describe(v)}", val, hint)
    x = float(v)
    lo_ok = x > low if low_open else x >= low
    hi_ok = True if high is None else (x < high if high_open else x <= high)
    if not (lo_ok and hi_ok):
        raise _err(f"{key} must be in {rng}, not {v}", val, f"use a value in {rng}")
    return x


def as_bool(val: Value, key: str) -> bool:
    if not isinstance(val.v, bool):
        raise _err(f"{key} must be true or false, not {describe(val.v)}", val)
    return val.v


def as_name(val: Value, key: str, options: Sequence[str]) -> str:
    v = val.v
    if isinstance(v, Symbol) and v in options:
        return str(v)
    if isinstance(v, str) and not isinstance(v, Symbol) and v in options:
        raise _err(f"{key} takes a name, not a string", val, f"write {v} without quotes")
    if isinstance(v, Symbol):
        raise _err(f"unknown {key} '{v}'", val, did_you_mean(v, options))
    raise _err(f"{key} must be one of {', '.join(options)}, not {describe(v)}", val)


def as_int_list(val: Value, key: str, n: int, minimum: int = 1, axes: str = "") -> tuple[int, ...]:
    v = val.v
    if not isinstance(v, tuple):
        raise _err(
            f"{key} must be a list of {n} integers, not {describe(v)}",
            val,
            f"write {key} = [{', '.join(axes) if axes else '...'}]",
        )
    if len(v) != n:
        raise _err(
            f"{key} must have {n} entries, not {len(v)}",
            val,
            f"the entries are [{', '.join(axes)}]" if axes else None,
        )
    return tuple(as_int(item, f"{key}[{i}]", minimum) for i, item in enumerate(v))


def as_size(val: Value, key: str) -> int | None:
    """An input size: an integer >= 1, or None for '?'."""
    if val.v is DYN:
        return None
    return as_int(val, key, 1)


def as_string(val: Value, key: str) -> A.StrLit:
    """A block string: returns the literal (with its span in the file) to parse."""
    v = val.v
    if isinstance(v, str) and not isinstance(v, Symbol):
        lit = val.lit if isinstance(val.lit, A.StrLit) else A.StrLit(v, val.span)
        return lit
    hint = 'block strings are quoted, e.g. "T1L1G1"'
    raise _err(f"{key} must be a block string, not {describe(v)}", val, hint)
