"""Pass: parse every block string the topology placed, expand groups and repetitions, and
count the network's cells against the limit, in the order the blocks are built.

Counts and nesting are checked before anything is expanded, so ``((C2)*1000)*1000`` costs
nothing. A literal is parsed once however often it is placed.
"""

from __future__ import annotations

from dataclasses import replace

from ..errors import Span, SpecError, SpecSyntaxError, SpecValueError
from ..language import CODES, MAX_CELLS, MAX_GROUP_DEPTH, MAX_REPEAT
from . import ast as A
from .diagnostics import did_you_mean
from .state import Unit, frozen

__all__ = ["run", "expand_literal"]


def _count(items: tuple, depth: int = 0) -> int:
    """Expanded cell count, checking repetition counts and nesting (before expanding)."""
    return sum(_count_item(item, depth) for item in items)


def _count_item(item, depth: int) -> int:
    if isinstance(item, A.BCell):
        return 1
    if isinstance(item, A.BGroup):
        if depth + 1 > MAX_GROUP_DEPTH:
            raise SpecSyntaxError(
                f"groups nest deeper than {MAX_GROUP_DEPTH}", item.span, "flatten the block string"
            )
        return _count(item.items, depth + 1)
    if not 1 <= item.count <= MAX_REPEAT:
        raise SpecValueError(
            f"repetition count {item.count_text} is out of range",
            item.count_span,
            f"a cell or group repeats 1 to {MAX_REPEAT} times",
        )
    return item.count * _count_item(item.item, depth)


def _expand(items: tuple) -> list[A.BCell]:
    out: list[A.BCell] = []
    for item in items:
        if isinstance(item, A.BCell):
            out.append(item)
        elif isinstance(item, A.BGroup):
            out.extend(_expand(item.items))
        else:
            out.extend(_expand((item.item,)) * item.count)
    return out


def _check_group_depth(text: str, lit: A.StrLit) -> None:
    """Refuse deep nesting by scanning characters, before the parser builds a deep tree."""
    depth = 0
    for i, ch in enumerate(text):
        if ch == "(":
            depth += 1
            if depth > MAX_GROUP_DEPTH + 1:
                sp = lit.span
                raise SpecSyntaxError(
                    f"groups nest deeper than {MAX_GROUP_DEPTH}",
                    Span(sp.line, sp.column + 1 + i, 1, sp.file, sp.source),
                    "flatten the block string",
                )
        elif ch == ")":
            depth = max(0, depth - 1)


def expand_literal(lit: A.StrLit) -> tuple[A.BCell, ...]:
    """The cells of one block-string literal, expanded; raises `SpecError`."""
    _check_group_depth(lit.value, lit)
    bs = A.parse_block_string(lit)
    n = _count(bs.items)  # checks counts and depth before expanding
    if n > MAX_CELLS:
        raise SpecValueError(
            f"the block string expands to {n} cells",
            lit.span,
            f"a network has at most {MAX_CELLS} cells",
        )
    cells = _expand(bs.items)
    for c in cells:
        if c.code not in CODES:
            raise SpecValueError(
                f"unknown cell code '{c.code}'", c.span, did_you_mean(c.code, CODES)
            )
    return tuple(cells)


def run(unit: Unit) -> Unit:
    errs: list[SpecError] = []
    parsed: dict[tuple, tuple[A.BCell, ...] | SpecError] = {}
    out: dict[str, tuple[A.BCell, ...] | None] = {}
    total = 0
    for s in unit.slots:
        lit = s.lit
        key = (lit.value, lit.span.file, lit.span.line, lit.span.column)
        if key not in parsed:
            try:
                parsed[key] = expand_literal(lit)
            except SpecError as e:
                parsed[key] = e
        cells = parsed[key]
        if isinstance(cells, SpecError):
            errs.append(cells)
            out[s.path] = None
            continue
        total += len(cells)
        if total > MAX_CELLS:
            errs.append(
                SpecValueError(
                    f"the network has more than {MAX_CELLS} cells",
                    lit.span,
                    "use fewer or shorter blocks",
                )
            )
            out[s.path] = None
            continue
        out[s.path] = cells
    return replace(unit, cells=frozen(out)).err(*errs)
