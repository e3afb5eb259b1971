"""Topology of a SOANet (SEMANTICS.md, SOANet): a stack of stages, each optionally
downsampled before it, an optional final downsample (`down_out`) and what is returned
(`outputs`, `output_norm`)."""

from __future__ import annotations

from dataclasses import replace

from ..errors import SpecError, SpecValueError
from ..language import BACKBONE_KEYS, DEFAULT_CHANNELS
from . import ir
from .entries import convert
from .outputs import backbone_outputs
from .plan import block_list, channels, down_norm, halve, resample, slot
from .state import Entries, Slot, Unit

__all__ = ["build"]

_KEYS = BACKBONE_KEYS["soanet"]
_DOWN = _KEYS["downsample"]


def _final(entries: Entries, method: str | None, errs: list[SpecError]) -> bool:
    """`final_downsample`, which needs downsampling on."""
    final = bool(convert(entries, "final_downsample", _KEYS["final_downsample"], errs, False))
    if final and not method:
        errs.append(
            SpecValueError(
                "final_downsample needs downsampling, but downsample is off",
                entries.values["final_downsample"].span,
                "set downsample = merge (or stride, interpolate), or remove final_downsample",
            )
        )
        return False
    return final


def _channels(
    entries: Entries, n: int, counts: list[int], final: bool, errs: list[SpecError]
) -> tuple[int, ...]:
    """Channels per stage, and then of the final downsample's output when there is one."""
    val = entries.get("channels")
    if not final:
        return channels(entries, n, counts, errs)
    if val is not None and isinstance(val.v, tuple) and val.v and len(val.v) != n + 1:
        errs.append(
            SpecValueError(
                f"channels lists {len(val.v)} values for {n} stages and the final downsample",
                val.span,
                f"with final_downsample a channels list has {n + 1} entries: one per stage, "
                "then the final downsample's output (or write one int)",
            )
        )
        return tuple(DEFAULT_CHANNELS * 2**c for c in [*counts, n])
    return channels(entries, n + 1, [*counts, n], errs)


def _norms(kind: str, outs: list[tuple[int, tuple]]) -> tuple[ir.OutputNorm, ...]:
    """The affine output norms (`channel_layer`), one per returned output."""
    if kind != "channel_layer":
        return ()
    return tuple(ir.OutputNorm(f"outputs.norm{i}", c, size) for i, (c, size) in enumerate(outs))


def build(
    unit: Unit, entries: Entries, c_in: int, size, depth: bool, errs: list[SpecError]
) -> tuple[ir.SOANet, list[Slot]] | None:
    """The SOANet with a `Slot` for every stage block, and the slots in build order."""
    lits_val = entries.get("stages")
    if lits_val is None:
        if "stages" in entries.failed:  # its value's error is reported
            return None
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
    final = _final(entries, method, errs)
    chans = _channels(entries, n, counts, final, errs)
    outputs = str(convert(entries, "outputs", _KEYS["outputs"], errs, "stage_outputs"))
    output_norm = str(convert(entries, "output_norm", _KEYS["output_norm"], errs, "none"))
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
    final_down = None
    if final:
        assert method is not None
        s_in = halve(size, counts[-1], depth)
        final_down = resample(
            "down_out", "down", method, (chans[n - 1], chans[n]), s_in, 2, depth, norm
        )
    spans = (("stages", lits_val.span),) + tuple(
        (key, entries.key_spans.get(key) or entries.values[key].span)
        for key in ("final_downsample", "outputs")
        if key in entries.values
    )
    net = ir.SOANet(
        tuple(stages),  # type: ignore[arg-type]
        tuple(downs),
        spans=spans,
        final_down=final_down,
        outputs=outputs,
        output_norm=output_norm,
    )
    norms = _norms(output_norm, backbone_outputs(net))
    return replace(net, norms=norms), stages
