"""Pass: the backbone's topology (where every block, resampler and gate goes, with its
channels and sizes), as a skeleton with a `Slot` for each block.

One module per backbone (`unet`, `hrnet`, `soanet`) builds over the shared level plan
(`plan.Levels`); the work is bounded before it is done.
"""

from __future__ import annotations

from dataclasses import replace

from ..errors import SpecError, SpecValueError
from ..language import BACKBONE_KEYS, DEFAULT_LEVELS, MAX_LEVELS, MAX_RESAMPLE_STEPS
from . import hrnet, soanet, unet
from .entries import convert
from .plan import DEFAULT_BLOCK_LIT, Levels, block_list, channels, down_norm
from .state import Unit

__all__ = ["run"]

_BUILDERS = {"unet": unet.build, "hrnet": hrnet.build}


def run(unit: Unit) -> Unit:
    sec = unit.sections.get("backbone")
    entries = unit.entries.get("backbone")
    if unit.input is None or sec is None or entries is None or sec.name is None:
        return unit
    kind = sec.name
    keys = BACKBONE_KEYS[kind]
    errs: list[SpecError] = []
    if unit.stem is not None:
        c_in, size = unit.stem.config.c_out, unit.stem.size_out
    else:
        c_in, size = unit.input.channels, unit.input.size
    depth = bool(convert(entries, "downsample_depth", keys["downsample_depth"], errs, False))
    if kind == "soanet":
        built = soanet.build(unit, entries, c_in, size, depth, errs)
    else:
        built = _levels(unit, kind, entries, c_in, size, depth, errs)
    if built is None:
        return unit.err(*errs)
    skeleton, slots = built
    return replace(unit, skeleton=skeleton, slots=tuple(slots)).err(*errs)


def _levels(unit: Unit, kind: str, entries, c_in: int, size, depth: bool, errs):
    """A U-Net or HR-Net: the shared level plan, then the backbone's own builder."""
    keys = BACKBONE_KEYS[kind]
    n = int(convert(entries, "levels", keys["levels"], errs, DEFAULT_LEVELS))  # type: ignore[call-overload]
    if n > MAX_LEVELS:
        errs.append(
            SpecValueError(
                f"{n} levels are more than any input allows",
                entries.values["levels"].span,
                "use fewer levels",
            )
        )
        return None
    if kind == "hrnet" and hrnet.resample_steps(n) > MAX_RESAMPLE_STEPS:
        errs.append(
            SpecValueError(
                f"an HR-Net of {n} levels needs {hrnet.resample_steps(n):,} resampling steps",
                entries.values["levels"].span,
                f"a network has at most {MAX_RESAMPLE_STEPS:,}; use at most "
                f"{max(k for k in range(1, n) if hrnet.resample_steps(k) <= MAX_RESAMPLE_STEPS)}"
                " levels",
            )
        )
        return None
    down_m = convert(entries, "downsample", keys["downsample"], errs, "interpolate")
    up_m = convert(entries, "upsample", keys["upsample"], errs, "linear")
    norm = down_norm(entries, kind, str(down_m), errs)
    chans = channels(entries, n, list(range(n)), errs)
    blocks = block_list(entries, "blocks", n, errs, [DEFAULT_BLOCK_LIT])
    if blocks is None:
        return None
    max_sub = n if kind == "unet" else n - 1
    for idx, (sub, _) in unit.subs.items():
        if not 0 <= idx <= max_sub:
            errs.append(
                SpecValueError(
                    f"level {sub.index_text} does not exist",
                    sub.index_span,
                    f"levels count from 0 to {max_sub}"
                    + (" (level L is the bridge)" if kind == "unet" else ""),
                )
            )
    # a `levels` value that breaks a size rule is pointed at; the default is not in the text
    spans = (("levels", entries.values["levels"].span),) if "levels" in entries.values else ()
    plan = Levels(c_in, size, depth, n, chans, tuple(blocks), str(down_m), str(up_m), spans, norm)
    return _BUILDERS[kind](entries, plan, errs)
