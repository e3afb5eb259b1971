"""Topology of an HR-Net (SEMANTICS.md, HR-Net): parallel levels, stage resamplers, fusion."""

from __future__ import annotations

from ..errors import SpecError
from . import ir
from .plan import Levels, halve, one_block, resample, slot
from .state import Entries, Slot

__all__ = ["build", "resample_steps"]


def resample_steps(n: int) -> int:
    """Single x2 steps an n-level HR-Net's resamplers take (counted before building them)."""
    # a resampler from level lf to l > lf takes l - lf steps; the stages s = 1..n-1 feed every
    # level l <= s from every lf < l, the fusion feeds every level from every other
    down = sum(l * (l + 1) // 2 for s in range(1, n) for l in range(s + 1))
    fusion = sum(abs(l - lf) for l in range(n) for lf in range(n))
    return down + fusion


def build(entries: Entries, plan: Levels, errs: list[SpecError]) -> tuple[ir.HRNet, list[Slot]]:
    """The HR-Net with a `Slot` for every block, and the slots in build order."""
    c_in, size, depth, n, chans = plan.c_in, plan.size, plan.depth, plan.n, plan.chans
    blocks, down_m, up_m = plan.blocks, plan.down_m, plan.up_m
    fusion_lit = one_block(entries, "fusion", errs)
    slots: list[Slot] = []
    blks: list[tuple[tuple[int, int], Slot]] = []
    res: list[tuple[tuple[int, int, int], ir.Resample]] = []
    for s in range(n):
        for l in range(s + 1):
            s_l = halve(size, l, depth)
            if s > 0:
                for lf in range(l):
                    r = resample(
                        f"level{l}.stage{s}.from{lf}", "down", down_m, tuple(chans[lf : l + 1]),
                        halve(size, lf, depth), 2, depth, plan.down_norm,
                    )  # fmt: skip
                    res.append(((l, s, lf), r))
            b = slot(
                f"level{l}.stage{s}", blocks[l], c_in if (l, s) == (0, 0) else chans[l],
                chans[l], s_l, l, l, depth,
            )  # fmt: skip
            slots.append(b)
            blks.append(((l, s), b))
    fus: list[tuple[tuple[int, int], ir.Resample]] = []
    outs: list[Slot] = []
    for l in range(n):
        s_l = halve(size, l, depth)
        for lf in range(n):
            path = f"fusion.level{l}.from{lf}"
            if lf < l:
                r = resample(
                    path, "down", down_m, tuple(chans[lf : l + 1]), halve(size, lf, depth), 2,
                    depth, plan.down_norm,
                )  # fmt: skip
                fus.append(((l, lf), r))
            elif lf > l:
                r = resample(
                    path, "up", up_m, (chans[lf], chans[l]), halve(size, lf, depth),
                    2 ** (lf - l), depth,
                )  # fmt: skip
                fus.append(((l, lf), r))
        b = slot(
            f"fusion.level{l}.out", fusion_lit or blocks[l], chans[l], chans[l], s_l, l, l, depth
        )
        slots.append(b)
        outs.append(b)
    net = ir.HRNet(
        chans, tuple(blks), tuple(res), tuple(fus), tuple(outs), up_m, depth, size,  # type: ignore[arg-type]
        spans=plan.spans,
    )  # fmt: skip
    return net, slots
