"""Pass: the optional task head on the backbone's last output."""

from __future__ import annotations

from dataclasses import replace

from ..errors import SpecError, SpecValueError
from ..language import HEAD_KEYS
from ..language.schema import HeadConfig
from . import ir
from .entries import convert, norm_eps
from .outputs import backbone_outputs, head_input, upsampling
from .state import Unit

__all__ = ["run"]


def _classify_keys(unit: Unit, entries, keys, errs: list[SpecError]) -> dict:
    """`norm`, `norm_eps` and `pool` of a classify head (empty for a conv head), checked:
    `norm_eps` needs the norm, `pool = token` the stem's class token."""
    if "pool" not in keys:
        return {}
    norm = str(convert(entries, "norm", keys["norm"], errs, "none"))
    hint = "remove norm_eps, or add norm = channel_layer"
    eps = norm_eps(entries, keys["norm_eps"], norm, "head", hint, errs)
    pool = str(convert(entries, "pool", keys["pool"], errs, "mean"))
    if pool == "token" and (unit.stem is None or not unit.stem.config.class_token):
        errs.append(
            SpecValueError(
                "pool = token needs a class token; the stem has none",
                entries.values["pool"].span,
                "add class_token = true to stem { }, or pool the map with pool = mean",
            )
        )
    return {"norm": norm, "norm_eps": eps, "pool": pool}


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
    extra = _classify_keys(unit, entries, keys, errs)
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
        cfg = HeadConfig(sec.name, c, int(n_out), factor, **extra)  # type: ignore[call-overload]
        made.append(ir.Head(path, cfg, size, sec.span))
    if per_output:
        return replace(unit, heads=tuple(made)).err(*errs)
    return replace(unit, head=made[0]).err(*errs)
