"""The class token's token row (SEMANTICS.md, "Class token"): where it applies, and the
rule that refuses every network on which the row would not compute what the map does.

With ``stem { class_token = true }`` the runtime runs the backbone on the row
``[B, C, 1, 1, 1 + N]`` (the token, then the map's N = D·H·W pixels). The IR keeps the map
(its sizes are what the spec describes and what the network returns); `token_row` is the
size the cells really see, which the costs and the summary count.
"""

from __future__ import annotations

from collections.abc import Iterator
from math import prod

from ..errors import ShapeError, Span, SpecError, SpecValueError
from ..language import FAMILIES
from . import ir

__all__ = ["token_row", "rule_class_token", "ROW_FAMILIES"]

#: families whose group is the whole map (V2/G: one frame, so D must be 1) when every token
#: is one pixel
ROW_FAMILIES = ("V2", "V3", "G", "G3")
_FIX = (
    "a class token joins cells that attend over the whole map, pixel by pixel: V2/V3 with "
    "window = [1, 1, 1], or G/G3 with window = patch = [1, 1, 1]; or remove class_token"
)


def token_row(net: ir.Network) -> tuple[int, int, int] | None:
    """(1, 1, 1 + N): the size the backbone's cells run on with a class token, else None."""
    stem = net.stem
    if stem is None or not stem.config.class_token:
        return None
    size = stem.size_out
    if not all(isinstance(a, int) for a in size):
        return None  # refused by the rules (a class token needs a static size)
    return (1, 1, 1 + prod(size))  # type: ignore[arg-type]


def _where(cell: ir.Cell, key: str) -> tuple[Span, str]:
    o = cell.origin(key)
    if o.span is not None:
        return o.span, f" (from 'let {o.let}')" if o.let else ""
    return cell.span, f" (the default {key})"


def _cell_problems(cell: ir.Cell, depth: int) -> Iterator[tuple[str, str, str]]:
    """(key, what is wrong, fix) for each way a cell breaks the token row."""
    cfg = cell.config
    fam = FAMILIES[cfg.family]
    if cfg.family not in ROW_FAMILIES:
        yield "", f"{cfg.code} does not attend over the whole map", _FIX
        return
    if not fam.three_d and depth > 1:
        yield (
            "",
            (
                f"{cfg.code} attends within each frame, but the row would join the D = {depth} "
                "frames"
            ),
            f"use {cfg.code[0]}3 (the whole volume), or an input with D = 1",
        )
    axes = fam.axes
    if any(cfg.window[i] != 1 for i in axes):
        yield "window", f"{cfg.code} has window {list(cfg.window)}", "write window = [1, 1, 1]"
    if fam.patched and any(cfg.patch[i] != 1 for i in axes):
        yield "patch", f"{cfg.code} has patch {list(cfg.patch)}", "write patch = [1, 1, 1]"
    if cfg.attention != "lin":
        yield "attention", f"{cfg.code} has attention = {cfg.attention}", "set attention = lin"
    if cfg.has_mixer and cfg.mixer != "lin":
        yield "mixer", f"{cfg.code} has mixer = {cfg.mixer}", "set mixer = lin"
    if cfg.norm != "channel_layer":
        yield "norm", f"{cfg.code} has norm = {cfg.norm}", "set norm = channel_layer"
    if cfg.rel_pos_bias:
        yield (
            "rel_pos_bias",
            f"{cfg.code} has a relative position bias",
            ("set rel_pos_bias = false (stem { pos_embed = learned } gives positions)"),
        )
    if cfg.c_in != cfg.c_out:
        yield (
            "",
            (f"{cfg.code} maps {cfg.c_in} -> {cfg.c_out} channels with a 3x3 conv"),
            "give the stages the stem's channels",
        )


def rule_class_token(net: ir.Network) -> Iterator[SpecError]:
    """A class token only where the token row equals the map plus the token: a SOANet
    without downsampling whose every cell attends over the whole map, pixel by pixel."""
    stem = net.stem
    if stem is None or not stem.config.class_token:
        return
    at = stem.key_span("class_token")
    bb = net.backbone
    if not isinstance(bb, ir.SOANet):
        yield SpecValueError(
            f"a class token needs a SOANet backbone, not a {bb.kind}",
            at,
            "use backbone soanet { ..., downsample = false }, or remove class_token",
        )
        return
    down = next((d for d in bb.down if d is not None), None)
    if down is not None:
        yield SpecValueError(
            f"a class token needs a SOANet without downsampling; {down.path} halves the map",
            ir.span_of(bb, "stages") or at,
            "set downsample = false in backbone soanet { }, or remove class_token",
        )
        return
    if bb.final_down is not None:
        yield SpecValueError(
            "a class token needs a SOANet without downsampling; final_downsample halves the "
            "last stage's output (down_out)",
            ir.span_of(bb, "final_downsample") or at,
            "remove final_downsample (or set it to false), or remove class_token",
        )
        return
    depth = stem.size_out[0] if isinstance(stem.size_out[0], int) else 1
    seen: set = set()
    for cell in net.cells():
        for key, what, fix in _cell_problems(cell, depth):
            span, note = _where(cell, key) if key else (cell.span, "")
            if (span, key, what) in seen:
                continue
            seen.add((span, key, what))
            cls = ShapeError if key in ("window", "patch") else SpecValueError
            yield cls(f"with a class token, {what} at {cell.path}{note}", span, fix)
