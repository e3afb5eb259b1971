"""What the backbone builders share: sizes per level, channels, block lists, resamplers, and
the level plan of U-Net and HR-Net. Pure functions; errors go to the list they are given."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import Span, SpecError, SpecValueError
from ..language import BACKBONE_KEYS, DEFAULT_BLOCK, DEFAULT_CHANNELS
from ..language.schema import ResampleConfig
from . import ast as A
from . import ir
from .checks import as_int, as_int_list, as_string
from .entries import convert
from .state import Entries, Slot

__all__ = [
    "Levels", "halve", "channels", "block_list", "one_block", "resample", "slot",
    "down_norm", "DEFAULT_BLOCK_LIT",
]  # fmt: skip

DEFAULT_BLOCK_LIT = A.StrLit(
    DEFAULT_BLOCK, Span(1, 1, len(DEFAULT_BLOCK) + 2, "<default>", f'"{DEFAULT_BLOCK}"')
)

Size = tuple[ir.Dim, ir.Dim, ir.Dim]


@dataclass(frozen=True)
class Levels:
    """The input of a U-Net / HR-Net: sizes, per-level channels and blocks, resampling."""

    c_in: int
    size: Size
    depth: bool
    n: int
    chans: tuple[int, ...]
    blocks: tuple[A.StrLit, ...]
    down_m: str
    up_m: str
    spans: tuple
    down_norm: str | None = None  # the merge steps' norm (`downsample_norm`), None: none


def halve(size: Size, times: int, depth: bool) -> Size:
    """`size` after `times` halvings of H and W (and of D when `depth`)."""

    def h(a: ir.Dim, n: int) -> ir.Dim:
        if n == 0:
            return a
        return a / 2**n if isinstance(a, ir.Sym) else a // 2**n

    return (h(size[0], times if depth else 0), h(size[1], times), h(size[2], times))


def channels(entries: Entries, n: int, counts: list[int], errs: list[SpecError]) -> tuple[int, ...]:
    """Channels per level/stage: an int C doubles per downsampling; a list is as written."""
    val = entries.get("channels")
    if val is None:
        return tuple(DEFAULT_CHANNELS * 2**c for c in counts)
    if isinstance(val.v, tuple):
        try:
            chans = as_int_list(val, "channels", len(val.v), 1)
        except SpecError as e:
            errs.append(e)
            return tuple(DEFAULT_CHANNELS * 2**c for c in counts)
        if not chans:
            errs.append(
                SpecValueError(
                    "channels is an empty list",
                    val.span,
                    f"give one value per level/stage ({n}), or one int",
                )
            )
            return tuple(DEFAULT_CHANNELS * 2**c for c in counts)
        if len(chans) != n:
            errs.append(
                SpecValueError(
                    f"channels lists {len(chans)} values for {n} levels/stages",
                    val.span,
                    f"give one value per level/stage ({n}), or one int",
                )
            )
            return tuple((chans + chans[-1:] * n)[:n])
        return chans
    try:
        c = as_int(val, "channels", 1)
    except SpecError as e:
        errs.append(e)
        c = DEFAULT_CHANNELS
    return tuple(c * 2**k for k in counts)


def block_list(
    entries: Entries, key: str, n: int, errs: list[SpecError], default: list[A.StrLit] | None
) -> list[A.StrLit] | None:
    """`n` block strings from a list key (a shorter list repeats its last)."""
    val = entries.get(key)
    if val is None:
        if default is None:
            return None
        return (default + default[-1:] * n)[:n]
    if not isinstance(val.v, tuple) or not val.v:
        errs.append(
            SpecValueError(
                f"{key} must be a list of block strings", val.span, f'write {key} = ["T1L1G1", ...]'
            )
        )
        return None
    lits: list[A.StrLit] = []
    for item in val.v:
        try:
            lits.append(as_string(item, key))
        except SpecError as e:
            errs.append(e)
            return None
    if len(lits) > n:
        errs.append(
            SpecValueError(
                f"{key} lists {len(lits)} blocks for {n} levels",
                val.span,
                f"give at most {n} (a shorter list repeats its last)",
            )
        )
    return (lits + lits[-1:] * n)[:n]


def one_block(entries: Entries, key: str, errs: list[SpecError]) -> A.StrLit | None:
    """The block string of a single-block key (`bridge`, `fusion`), if written."""
    return convert(entries, key, as_string, errs)  # type: ignore[return-value]


def down_norm(entries: Entries, kind: str, method: str | None, errs: list[SpecError]) -> str | None:
    """The norm of the merge steps (`downsample_norm`), None for `none`; an error unless the
    backbone downsamples by `merge` (`method`, None when it does not downsample)."""
    name = convert(entries, "downsample_norm", BACKBONE_KEYS[kind]["downsample_norm"], errs)
    if name is None or name == "none":
        return None
    if method != "merge":
        how = f"downsample = {method}" if method else "no downsampling"
        errs.append(
            SpecValueError(
                f"downsample_norm = {name} needs downsample = merge, not {how}",
                entries.values["downsample_norm"].span,
                "the norm sits between the fold and the conv1 of a merge step: write "
                "downsample = merge, or remove downsample_norm",
            )
        )
        return None
    return str(name)


def resample(
    path: str,
    direction: str,
    method: str,
    chans: tuple[int, ...],
    size_in: Size,
    factor: int,
    depth: bool,
    norm: str | None = None,
) -> ir.Resample:
    """One resampler: `len(chans) - 1` halvings down (each merge step normed by `norm`), or
    one upsampling by `factor`."""
    if direction == "down":
        size_out = halve(size_in, len(chans) - 1, depth)
    else:
        d, h, w = size_in
        size_out = (d * factor if depth else d, h * factor, w * factor)
    norm = norm if direction == "down" else None
    cfg = ResampleConfig(direction, method, chans, factor, depth, norm)
    return ir.Resample(path, cfg, size_in, size_out)


def slot(
    path: str, lit: A.StrLit, c_in: int, c_out: int, size: Size, level: int, sub: int, depth: bool
) -> Slot:
    """A block placed at `path`, `level` halvings deep, parameters of entry `sub`."""
    return Slot(path, lit, c_in, c_out, size, (level, level, level if depth else 0), level, sub)
