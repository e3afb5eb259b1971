"""Pass: find the sections, refuse duplicates, missing ones and bad kinds, and evaluate
every section's entries; the cell defaults and level/stage parameters are checked here."""

from __future__ import annotations

from dataclasses import replace

from ..errors import SpecError, SpecSyntaxError, SpecValueError
from ..language import BACKBONE_KEYS, CELL_KEYS, HEAD_KEYS, INPUT_KEYS, LEVEL_ENTRY, STEM_KEYS
from . import ast as A
from .diagnostics import did_you_mean
from .entries import read_entries
from .params import cell_params
from .state import Unit, frozen

__all__ = ["run"]

_EXAMPLE_SECTION = {
    "input": "input { channels = 1, D = 1, H = 64, W = 64 }",
    "backbone": "backbone unet { ... } (or hrnet, soanet)",
}
_UNNAMED = {"input": INPUT_KEYS, "cell": CELL_KEYS, "stem": STEM_KEYS}
_NAMED = {"backbone": BACKBONE_KEYS, "head": HEAD_KEYS}


def _find(spec: A.Spec, errs: list[SpecError]) -> dict[str, A.Section]:
    """The sections by kind; duplicates, missing ones and bad names or kinds reported."""
    sections: dict[str, A.Section] = {}
    for st in spec.statements:
        if isinstance(st, A.Section):
            if st.kind in sections:
                errs.append(
                    SpecValueError(
                        f"duplicate section '{st.kind}'",
                        st.span,
                        f"'{st.kind}' is already given on line "
                        f"{sections[st.kind].span.line}; merge them",
                    )
                )
                continue
            sections[st.kind] = st
    for req in ("input", "backbone"):
        if req not in sections:
            errs.append(
                SpecValueError(
                    f"missing section '{req}'", spec.end_span, "add " + _EXAMPLE_SECTION[req]
                )
            )
    for sec in sections.values():
        if sec.kind in _UNNAMED and sec.name is not None:
            errs.append(
                SpecSyntaxError(
                    f"section '{sec.kind}' takes no name",
                    sec.name_span or sec.span,
                    f"write {sec.kind} {{ ... }}",
                )
            )
        if sec.kind in _NAMED and sec.name is None:
            opts = ", ".join(_NAMED[sec.kind])
            errs.append(
                SpecSyntaxError(
                    f"section '{sec.kind}' needs a kind",
                    sec.span,
                    f"write {sec.kind} NAME {{ ... }} with NAME one of {opts}",
                )
            )
    for kind, table in _NAMED.items():
        sec = sections.get(kind)
        if sec is not None and sec.name is not None and sec.name not in table:
            errs.append(
                SpecValueError(
                    f"unknown {kind} '{sec.name}'",
                    sec.name_span or sec.span,
                    did_you_mean(sec.name, table),
                )
            )
            del sections[kind]
    return sections


def run(unit: Unit) -> Unit:
    errs: list[SpecError] = []
    sections = _find(unit.spec, errs)
    entries = {}
    for kind, sec in sections.items():
        if kind in _UNNAMED:
            allowed, sub_kind = _UNNAMED[kind], None
        elif sec.name is not None:
            allowed = _NAMED[kind][sec.name]
            sub_kind = LEVEL_ENTRY.get(sec.name) if kind == "backbone" else None
        else:
            continue
        where = f"{sec.kind} {sec.name}" if sec.name else sec.kind
        entries[kind] = read_entries(
            sec.items, allowed, unit.env, errs, where, sec.close_span, sub_kind
        )
    defaults = cell_params(entries["cell"], "cell", errs) if "cell" in entries else {}
    subs = {}
    if "backbone" in entries:
        subs = {
            i: (sub, frozen(cell_params(e, "level", errs)))
            for i, (sub, e) in entries["backbone"].subs.items()
        }
    return replace(
        unit,
        sections=frozen(sections),
        entries=frozen(entries),
        defaults=frozen(defaults),
        subs=frozen(subs),
    ).err(*errs)
