"""Pass: the optional task head on the backbone's last output."""

from __future__ import annotations

from dataclasses import replace

from ..errors import SpecError
from ..language import HEAD_KEYS
from ..language.schema import HeadConfig
from . import ir
from .entries import convert
from .outputs import head_input
from .state import Unit

__all__ = ["run"]


def run(unit: Unit) -> Unit:
    sec = unit.sections.get("head")
    entries = unit.entries.get("head")
    if sec is None or entries is None or sec.name is None:
        return unit
    errs: list[SpecError] = []
    ((key, t),) = HEAD_KEYS[sec.name].items()
    n_out = convert(entries, key, t, errs, None, True, f"head {sec.name}")
    head = None
    if n_out is not None and unit.backbone is not None:
        c_last, size_last = head_input(unit.backbone)
        head = ir.Head("head", HeadConfig(sec.name, c_last, int(n_out)), size_last, sec.span)  # type: ignore[call-overload]
    return replace(unit, head=head).err(*errs)
