"""Evaluating a section's entries and checking values against the language's key types.

`read_entries` evaluates every `key = value` of a section (unknown and duplicate keys
refused); `convert` checks one value against its `language.Type`. Both report into a list
of errors and return what they could read, so one mistake never hides another.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from ..errors import Span, SpecError, SpecSyntaxError, SpecValueError
from ..language import BACKBONE_KEYS, CELL_KEYS, Type
from . import ast as A
from .checks import as_bool, as_float, as_int, as_int_list, as_name, as_size
from .diagnostics import did_you_mean
from .state import Entries, frozen
from .values import DYN, Symbol, Value, evaluate

__all__ = ["read_entries", "convert", "checker", "norm_eps"]


def checker(t: Type) -> Callable[[Value, str], object]:
    """The function that checks and converts a value of type `t` (raises `SpecError`)."""
    if t.kind == "int":
        return lambda v, k: as_int(v, k, int(t.lo or 0))
    if t.kind == "float":
        check = lambda v, k: as_float(v, k, float(t.lo or 0.0), t.hi, t.lo_open, t.hi_open)  # noqa: E731
        return _or_none(check) if t.none else check
    if t.kind == "bool":
        return as_bool
    if t.kind in ("name", "downsample"):  # a downsample true/false is read by soanet
        return lambda v, k: as_name(v, k, t.options)
    if t.kind == "ints":
        return lambda v, k: as_int_list(v, k, t.n, 1, t.axes)
    if t.kind == "size":
        return as_size
    raise ValueError(f"type {t.kind!r} is read by its pass, not by `checker`")  # pragma: no cover


def _or_none(check: Callable[[Value, str], object]) -> Callable[[Value, str], object]:
    """`check`, but the bare name ``none`` reads as None (the key's unset value)."""

    def read(val: Value, key: str) -> object:
        if isinstance(val.v, Symbol) and val.v == "none":
            return None
        try:
            return check(val, key)
        except SpecError as e:
            e.hint = f"{e.hint}; or none (the default)" if e.hint else "or none (the default)"
            raise

    return read


def _elsewhere(key: str, where: str) -> str | None:
    """For a backbone key written on another backbone: which backbones take it."""
    if not where.startswith("backbone "):
        return None
    kinds = [k for k, keys in BACKBONE_KEYS.items() if key in keys and not where.endswith(k)]
    if not kinds:
        return None
    return f"'{key}' is a key of backbone {' and '.join(kinds)} only; remove it here"


def read_entries(
    items: tuple,
    allowed: Iterable[str],
    env: Mapping[str, Value],
    errs: list[SpecError],
    where: str,
    close: Span,
    sub_kind: str | None = None,
) -> Entries:
    """Evaluate the entries of a section; `sub_kind` names the nested entry it takes."""
    allowed = tuple(allowed)
    values: dict[str, Value] = {}
    key_spans: dict[str, Span] = {}
    subs: dict[int, tuple[A.Sub, Entries]] = {}
    failed: set[str] = set()
    for item in items:
        if isinstance(item, A.Sub):
            if sub_kind is None or item.kind != sub_kind:
                want = f"'{sub_kind} N {{ ... }}'" if sub_kind else "no nested entries"
                errs.append(
                    SpecSyntaxError(
                        f"'{item.kind}' entries are not allowed in {where}",
                        item.span,
                        f"{where} takes {want}",
                    )
                )
                continue
            if item.index in subs:
                errs.append(
                    SpecValueError(
                        f"{item.kind} {item.index_text} is given twice",
                        item.index_span,
                        "merge the two entries into one",
                    )
                )
                continue
            sub = read_entries(
                item.items, CELL_KEYS, env, errs, f"a {item.kind} entry", item.close_span
            )
            subs[item.index] = (item, sub)
            continue
        if item.key not in allowed:
            errs.append(
                SpecValueError(
                    f"unknown key '{item.key}' in {where}",
                    item.key_span,
                    _elsewhere(item.key, where) or did_you_mean(item.key, allowed),
                )
            )
            continue
        if item.key in values:
            first = key_spans[item.key]
            errs.append(
                SpecValueError(
                    f"duplicate key '{item.key}' in {where}",
                    item.key_span,
                    f"'{item.key}' is already set on line {first.line}",
                )
            )
            continue
        try:
            values[item.key] = evaluate(item.value, env)
            key_spans[item.key] = item.key_span
        except SpecError as e:
            errs.append(e)
            failed.add(item.key)
    return Entries(frozen(values), frozen(key_spans), frozen(subs), close, frozenset(failed))


def convert(
    entries: Entries,
    key: str,
    check: Callable[[Value, str], object] | Type,
    errs: list[SpecError],
    default: object = None,
    required: bool = False,
    where: str = "",
) -> object:
    """The checked value of `key` in `entries`, or `default` (an error added if required)."""
    if isinstance(check, Type):
        check = checker(check)
    val = entries.get(key)
    if val is None:
        if required and key not in entries.failed:
            assert entries.close is not None
            errs.append(
                SpecValueError(
                    f"{where} is missing the key '{key}'",
                    entries.close,
                    f"add '{key} = ...' to {where}",
                )
            )
        return default
    if val.v is DYN and key not in ("D", "H", "W"):
        errs.append(
            SpecValueError("'?' is only allowed for D, H and W in the input section", val.span)
        )
        return default
    try:
        return check(val, key)
    except SpecError as e:
        errs.append(e)
        return default


def norm_eps(
    entries: Entries, t: Type, norm: object, where: str, hint: str, errs: list[SpecError]
) -> float | None:
    """The section's `norm_eps` as a float (None when not written), refused with `hint` when
    the section has no norm (`norm` is "none") to take it."""
    eps = convert(entries, "norm_eps", t, errs, None)
    if eps is None:
        return None
    if norm == "none":
        errs.append(
            SpecValueError(
                f"norm_eps needs a {where} norm; the {where} has none",
                entries.values["norm_eps"].span,
                hint,
            )
        )
        return None
    return float(eps)  # type: ignore[arg-type]
