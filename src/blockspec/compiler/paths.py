"""Pass: key-path overrides (``--set backbone.levels=5``, ``cell.heads=4``,
``backbone.level2.heads=8``) rewrite the spec's entries before anything is evaluated.

An override whose name has a dot sets a key of a section (``SECTION.KEY``) or of a level or
stage entry (``backbone.levelN.KEY`` / ``backbone.stageN.KEY``): the entry is replaced, or
added where the spec does not write it (a missing ``cell`` section or level entry is
created). The rewritten entries keep their places in ``<overrides>``, so every later error
points at the override; the canonical text writes them into the spec, so `model.spec`
rebuilds the very network.
"""

from __future__ import annotations

import re
from dataclasses import replace

from ..errors import Span, SpecError, SpecValueError
from ..language import LEVEL_ENTRY
from . import ast as A
from .diagnostics import did_you_mean
from .state import Unit, frozen

__all__ = ["run", "SECTIONS"]

SECTIONS = ("input", "cell", "stem", "backbone", "head")
_SUB = re.compile(r"(level|stage)([0-9]{1,9})$")


def _part_span(name: str, expr: A.Expr, index: int) -> Span:
    """The span of the `index`-th dotted component of an override's name in <overrides>."""
    parts = name.split(".")
    col = 1 + sum(len(p) + 1 for p in parts[:index])
    sp = expr.span
    return Span(sp.line, col, max(1, len(parts[index])), sp.file, sp.source)


def _set(items: tuple, key: str, entry: A.Entry) -> tuple:
    """`items` with the entry of `key` replaced by `entry`, or `entry` appended."""
    out, done = [], False
    for it in items:
        if isinstance(it, A.Entry) and it.key == key and not done:
            out.append(entry)
            done = True
        else:
            out.append(it)
    return tuple(out) if done else (*out, entry)


def _apply(spec: A.Spec, name: str, expr: A.Expr, at_close: bool) -> A.Spec:
    """The spec with one key-path override applied; raises `SpecError`.

    `at_close` places new entries at their section's closing line (for the printer, which
    anchors comments by line); otherwise they keep their <overrides> spans (for errors).
    """
    parts = name.split(".")
    sec_name = parts[0]
    if sec_name not in SECTIONS:
        raise SpecValueError(
            f"unknown section '{sec_name}' in the override {name}",
            _part_span(name, expr, 0),
            did_you_mean(sec_name, SECTIONS) or f"paths start with {', '.join(SECTIONS)}",
        )
    sections = [st for st in spec.statements if isinstance(st, A.Section) and st.kind == sec_name]
    if len(parts) not in (2, 3) or not all(parts):
        raise SpecValueError(
            f"the override {name} is not SECTION.KEY or backbone.levelN.KEY",
            _part_span(name, expr, 0),
            "e.g. backbone.levels=5, cell.heads=4, backbone.level2.heads=8",
        )
    if not sections:
        if sec_name != "cell":
            raise SpecValueError(
                f"the spec has no '{sec_name}' section to set {name} in",
                _part_span(name, expr, 0),
                f"add a {sec_name} section to the spec first",
            )
        cell = A.Section("cell", None, (), spec.end_span, None, spec.end_span)
        spec = replace(spec, statements=(*spec.statements, cell))
        sections = [cell]
    sec = sections[0]
    key = parts[-1]
    ksp = _part_span(name, expr, len(parts) - 1)

    def entry(close: Span) -> A.Entry:
        if at_close:
            here = Span(close.line, close.column, 1, close.file, close.source)
            return A.Entry(key, expr, here, here)
        return A.Entry(key, expr, ksp, ksp)

    if len(parts) == 2:
        new_sec = replace(sec, items=_set(sec.items, key, entry(sec.close_span)))
    else:
        m = _SUB.match(parts[1])
        want = LEVEL_ENTRY.get(sec.name or "", "level")
        if sec_name != "backbone" or m is None or m.group(1) != want:
            raise SpecValueError(
                f"'{parts[1]}' in the override {name} is not an entry of this spec",
                _part_span(name, expr, 1),
                f"write backbone.{want}N.KEY, e.g. backbone.{want}0.heads=4",
            )
        index = int(m.group(2))
        items, found = [], False
        for it in sec.items:
            if isinstance(it, A.Sub) and it.kind == want and it.index == index and not found:
                it = replace(it, items=_set(it.items, key, entry(it.close_span)))
                found = True
            items.append(it)
        if not found:
            isp = _part_span(name, expr, 1)
            where = sec.close_span if at_close else isp
            sub = A.Sub(want, index, (), where, where, where, str(index))
            items.append(replace(sub, items=(entry(where),)))
        new_sec = replace(sec, items=tuple(items))
    stmts = tuple(new_sec if st is sec else st for st in spec.statements)
    return replace(spec, statements=stmts)


def run(unit: Unit) -> Unit:
    paths = {n: e for n, e in unit.override_exprs.items() if "." in n}
    if not paths:
        return unit
    lets = {n: e for n, e in unit.override_exprs.items() if "." not in n}
    spec, printed = unit.spec, unit.spec
    errs: list[SpecError] = []
    for name, expr in paths.items():
        try:
            spec = _apply(spec, name, expr, at_close=False)
            printed = _apply(printed, name, expr, at_close=True)
        except SpecError as e:
            errs.append(e)
    return replace(unit, spec=spec, printed=printed, override_exprs=frozen(lets)).err(*errs)
