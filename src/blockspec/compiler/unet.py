"""Topology of a U-Net (SEMANTICS.md, U-Net): encoder levels, bridge, gated decoder."""

from __future__ import annotations

from ..errors import SpecError
from ..language import BACKBONE_KEYS
from . import ir
from .entries import convert
from .plan import Levels, block_list, halve, one_block, resample, slot
from .state import Entries, Slot

__all__ = ["build"]


def build(entries: Entries, plan: Levels, errs: list[SpecError]) -> tuple[ir.UNet, list[Slot]]:
    """The U-Net with a `Slot` for every block, and the slots in build order."""
    c_in, size, depth, n, chans = plan.c_in, plan.size, plan.depth, plan.n, plan.chans
    blocks = list(plan.blocks)
    dec = block_list(entries, "decoder", n, errs, blocks)
    bridge_lit = one_block(entries, "bridge", errs) or blocks[-1]
    slots: list[Slot] = []
    encs, downs = [], []
    for l in range(n):
        s_l = halve(size, l, depth)
        encs.append(
            slot(f"level{l}.enc", blocks[l], c_in if l == 0 else chans[l - 1], chans[l], s_l,
                 l, l, depth)
        )  # fmt: skip
        slots.append(encs[-1])
        down = resample(
            f"level{l}.down", "down", plan.down_m, (chans[l], chans[l]), s_l, 2, depth,
            plan.down_norm,
        )  # fmt: skip
        downs.append(down)
    bridge = slot("bridge", bridge_lit, chans[-1], chans[-1], halve(size, n, depth), n, n, depth)
    slots.append(bridge)
    ups: list = [None] * n
    gates: list = [None] * n
    decs: list = [None] * n
    gate = convert(entries, "gate", BACKBONE_KEYS["unet"]["gate"], errs, True)
    for l in reversed(range(n)):
        s_l = halve(size, l, depth)
        ups[l] = resample(
            f"level{l}.up", "up", plan.up_m, (chans[l], chans[l]), halve(size, l + 1, depth), 2,
            depth,
        )  # fmt: skip
        gates[l] = ir.Gate(f"level{l}.gate", chans[l], s_l) if gate else None
        decs[l] = slot(
            f"level{l}.dec", dec[l] if dec else blocks[l], 2 * chans[l],
            chans[l - 1] if l > 0 else chans[0], s_l, l, l, depth,
        )  # fmt: skip
        slots.append(decs[l])
    levels = tuple(ir.UNetLevel(encs[l], downs[l], ups[l], gates[l], decs[l]) for l in range(n))
    deep = bool(convert(entries, "deep_supervision", BACKBONE_KEYS["unet"]["deep_supervision"],
                        errs, False))  # fmt: skip
    unet = ir.UNet(levels, bridge, chans, spans=plan.spans, deep_supervision=deep)
    return unet, slots  # type: ignore[return-value]
