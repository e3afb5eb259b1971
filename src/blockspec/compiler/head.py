"""Pass: the optional task head on the backbone's last output."""

from __future__ import annotations

from dataclasses import replace

from ..errors import SpecError
from ..language import HEAD_KEYS
from ..language.schema import HeadConfig
from . import ir
from .entries import convert
from .outputs import backbone_outputs, head_input
from .state import Unit

__all__ = ["run"]


def run(unit: Unit) -> Unit:
    sec = unit.sections.get("head")
    entries = unit.entries.get("head")
    if sec is None or entries is None or sec.name is None:
        return unit
    errs: list[SpecError] = []
    keys = HEAD_KEYS[sec.name]
    key = next(iter(keys))  # out_channels / classes
    n_out = convert(entries, key, keys[key], errs, None, True, f"head {sec.name}")
    per_output = bool(convert(entries, "per_output", keys["per_output"], errs, False))
    if n_out is None or unit.backbone is None:
        return unit.err(*errs)
    if per_output:
        heads = tuple(
            ir.Head(f"heads.{i}", HeadConfig(sec.name, c, int(n_out)), size, sec.span)  # type: ignore[call-overload]
            for i, (c, size) in enumerate(backbone_outputs(unit.backbone))
        )
        return replace(unit, heads=heads).err(*errs)
    c_last, size_last = head_input(unit.backbone)
    head = ir.Head("head", HeadConfig(sec.name, c_last, int(n_out)), size_last, sec.span)  # type: ignore[call-overload]
    return replace(unit, head=head).err(*errs)
