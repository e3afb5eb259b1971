"""Pass: the input the network accepts and the optional stem (patch embedding) after it."""

from __future__ import annotations

from dataclasses import replace

from ..errors import SpecError, SpecValueError
from ..language import INPUT_KEYS, STEM_KEYS
from ..language.schema import StemConfig
from . import ir
from .entries import convert, norm_eps
from .state import Unit
from .values import DYN

__all__ = ["run"]


def _input(unit: Unit, errs: list[SpecError]) -> ir.Input | None:
    e = unit.entries.get("input")
    if e is None:
        return None
    ch = convert(e, "channels", INPUT_KEYS["channels"], errs, None, True, "input")
    if e.get("channels") is not None and e.values["channels"].v is DYN:
        errs.append(
            SpecValueError(
                "input channels must be static", e.values["channels"].span, "give an integer"
            )
        )
    dims = []
    for ax in "DHW":
        v = convert(e, ax, INPUT_KEYS[ax], errs, 1, True, "input")
        dims.append(ir.Sym(ax) if v is None else v)
    if ch is None:
        return None
    return ir.Input(
        int(ch),  # type: ignore[call-overload]
        (dims[0], dims[1], dims[2]),
        spans=tuple(e.values[a].span if a in e.values else None for a in "DHW"),  # type: ignore[arg-type]
        channels_span=e.values["channels"].span,
    )


def _div(a: ir.Dim, p: int) -> ir.Dim:
    return a / p if isinstance(a, ir.Sym) else a // p


def _stem(unit: Unit, inp: ir.Input | None, errs: list[SpecError]) -> ir.Stem | None:
    e = unit.entries.get("stem")
    if e is None:
        return None
    patch = convert(e, "patch", STEM_KEYS["patch"], errs, None, True, "stem")
    ch = convert(e, "channels", STEM_KEYS["channels"], errs, None, True, "stem")
    norm = convert(e, "norm", STEM_KEYS["norm"], errs, "none")
    hint = "remove norm_eps, or add a norm, e.g. norm = channel_layer"
    eps = norm_eps(e, STEM_KEYS["norm_eps"], norm, "stem", hint, errs)
    pos = convert(e, "pos_embed", STEM_KEYS["pos_embed"], errs, "none")
    token = bool(convert(e, "class_token", STEM_KEYS["class_token"], errs, False))
    if patch is None or ch is None or inp is None:
        return None
    ph, pw, pd = patch  # type: ignore[misc]
    d, h, w = inp.size
    size_after = (_div(d, pd), _div(h, ph), _div(w, pw))
    cfg = StemConfig(
        inp.channels,
        int(ch),  # type: ignore[call-overload]
        tuple(patch),  # type: ignore[arg-type]
        None if norm == "none" else str(norm),
        ir.runtime_size(size_after),
        eps,
        str(pos),
        token,
    )
    keys = tuple((k, v.span) for k, v in e.values.items())
    return ir.Stem("stem", cfg, inp.size, size_after, e.values["patch"].span, keys)


def run(unit: Unit) -> Unit:
    errs: list[SpecError] = []
    inp = _input(unit, errs)
    stem = _stem(unit, inp, errs)
    return replace(unit, input=inp, stem=stem).err(*errs)
