"""Topology of a SOANet (SEMANTICS.md, SOANet): a stack of stages, each optionally
downsampled before it."""

from __future__ import annotations

from ..errors import SpecError, SpecValueError
from ..language import BACKBONE_KEYS
from . import ir
from .entries import convert
from .plan import block_list, channels, down_norm, halve, resample, slot
from .state import Entries, Slot, Unit

__all__ = ["build"]

_DOWN = BACKBONE_KEYS["soanet"]["downsample"]


def build(
    unit: Unit, entries: Entries, c_in: int, size, depth: bool, errs: list[SpecError]
) -> tuple[ir.SOANet, list[Slot]] | None:
    """The SOANet with a `Slot` for every stage block, and the slots in build order."""
    lits_val = entries.get("stages")
    if lits_val is None:
        errs.append(
            SpecValueError(
                "backbone soanet is missing the key 'stages'",
                entries.close,
                'add stages = ["(S3Sh)*1", ...]',
            )
        )
        return None
    if not isinstance(lits_val.v, tuple) or not lits_val.v:
        errs.append(SpecValueError("stages must be a list of block strings", lits_val.span))
        return None
    n = len(lits_val.v)
    lits = block_list(entries, "stages", n, errs, None)
    down_v = entries.get("downsample")
    method: str | None = "interpolate"
    if down_v is not None:
        if isinstance(down_v.v, bool):
            method = "interpolate" if down_v.v else None
        else:
            method = convert(entries, "downsample", _DOWN, errs, "interpolate")  # type: ignore[assignment]
    norm = down_norm(entries, "soanet", method, errs)
    counts = [s if method else 0 for s in range(n)]
    chans = channels(entries, n, counts, errs)
    for idx, (sub, _) in unit.subs.items():
        if not 0 <= idx < n:
            errs.append(
                SpecValueError(
                    f"stage {sub.index_text} does not exist",
                    sub.index_span,
                    f"stages count from 0 to {n - 1}",
                )
            )
    if lits is None:
        return None
    stages: list[Slot] = []
    downs: list[ir.Resample | None] = []
    prev = c_in
    for s in range(n):
        s_s = halve(size, counts[s], depth)
        if s > 0 and method:
            downs.append(
                resample(
                    f"stage{s}.down",
                    "down",
                    method,
                    (chans[s - 1], chans[s]),
                    halve(size, counts[s - 1], depth),
                    2,
                    depth,
                    norm,
                )  # fmt: skip
            )
            prev = chans[s]
        else:
            downs.append(None)
        stages.append(slot(f"stage{s}", lits[s], prev, chans[s], s_s, counts[s], s, depth))
        prev = chans[s]
    spans = (("stages", lits_val.span),)
    return ir.SOANet(tuple(stages), tuple(downs), spans=spans), stages  # type: ignore[arg-type]
