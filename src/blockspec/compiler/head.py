"""Pass: the optional task head on the backbone's last output."""

from __future__ import annotations

from dataclasses import replace

from ..errors import SpecError, SpecValueError
from ..language import HEAD_KEYS
from ..language.schema import HeadConfig
from . import ir
from .entries import convert
from .outputs import backbone_outputs, head_input, upsampling
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
    up = "upsample" in keys and bool(convert(entries, "upsample", keys["upsample"], errs, False))
    if up and unit.stem is None:
        errs.append(
            SpecValueError(
                "upsample = true needs a stem: without one the head is at the input's size",
                entries.values["upsample"].span,
                "remove upsample, or add stem { patch = [...], channels = ... }",
            )
        )
        up = False
    if n_out is None or unit.backbone is None or unit.input is None:
        return unit.err(*errs)
    outs = backbone_outputs(unit.backbone) if per_output else [head_input(unit.backbone)]
    made = []
    for i, (c, size) in enumerate(outs):
        factor = upsampling(unit.input.size, size) if up else (1, 1, 1)
        if factor is None:  # pragma: no cover - sizes after a stem always divide the input
            errs.append(SpecValueError("cannot upsample this output to the input size", sec.span))
            factor = (1, 1, 1)
        path = f"heads.{i}" if per_output else "head"
        made.append(ir.Head(path, HeadConfig(sec.name, c, int(n_out), factor), size, sec.span))  # type: ignore[call-overload]
    if per_output:
        return replace(unit, heads=tuple(made)).err(*errs)
    return replace(unit, head=made[0]).err(*errs)
