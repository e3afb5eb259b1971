"""Hand-built runtime configurations for the runtime tests.

These stand in for the compiler's lowering: they turn a few numbers (block strings made of
plain codes, channels, sizes, a level-0 window and patch) into the frozen dataclasses of
`blockspec.runtime.config`, sizing windows per level with SEMANTICS.md's rules (``mixed`` by
default; clamped to the map; used as written on dynamic axes). They do no validation beyond
what the tests need.
"""

from __future__ import annotations

import re
from typing import Any

from blockspec.runtime.config import (
    FAMILIES_3D,
    BlockConfig,
    CellConfig,
    HeadConfig,
    HRNetConfig,
    InputConfig,
    NetworkConfig,
    ResampleConfig,
    Size,
    SOANetConfig,
    StemConfig,
    UNetConfig,
)

_CODE = re.compile(r"[A-Z][a-z0-9]")
_FAMILY = {"L1": "L", "L0": "L", "G1": "G", "G0": "G", "T1": "T", "T0": "T", "F1": "T", "F0": "T"}
_NO_MIXER = {"L0", "G0", "T0", "F0"}

# cheap cell defaults for tests: no stochastic depth, a small mixer
CELL_DEFAULTS: dict[str, Any] = {"dropout": 0.0, "mixer_ratio": 2.0}


def codes(text: str) -> list[str]:
    """The cell codes of a plain block string (no groups, repeats or overrides)."""
    found = _CODE.findall(text)
    if "".join(found) != text:
        raise ValueError(f"factories only take plain block strings, got {text!r}")
    return found


def _largest_divisor(n: int, at_most: int) -> int:
    return max(d for d in range(1, min(n, at_most) + 1) if n % d == 0)


def sized_window(
    window: tuple[int, int, int],
    patch: tuple[int, int, int],
    size: Size,
    k: int,
    sizing: str = "mixed",
    depth: bool = False,
) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
    """Window and patch (H, W, D) at a map halved k times, per SEMANTICS.md's sizing rules."""
    shift = {"keep_window_size": 0, "keep_num_window": k, "mixed": k // 2}[sizing]
    d, h, w = size
    out_w, out_p = [], []
    for axis, (wa, pa, n) in enumerate(zip(window, patch, (h, w, d), strict=True)):
        sized = axis < 2 or depth
        if n is None:  # dynamic: as written
            out_w.append(wa)
            out_p.append(pa)
            continue
        wk = max(1, wa // 2**shift) if sized else wa
        pk = max(1, pa // 2**shift) if sized else pa
        if wk > n:
            wk, pk = n, _largest_divisor(n, pk)
        out_w.append(wk)
        out_p.append(pk)
    return tuple(out_w), tuple(out_p)  # type: ignore[return-value]


def cell(code: str, c_in: int, c_out: int, size: Size, **kw: Any) -> CellConfig:
    """One cell config; ``kw`` overrides any CellConfig field (test defaults: no dropout)."""
    family = _FAMILY.get(code, code)
    fields = {**CELL_DEFAULTS, **kw}
    return CellConfig(
        code=code,
        family=family,
        has_mixer=code not in _NO_MIXER,
        c_in=c_in,
        c_out=c_out,
        size=size,
        **fields,
    )


def block(
    text: str,
    c_in: int,
    c_out: int,
    size: Size,
    *,
    dense: bool = False,
    checkpoint: bool = False,
    **kw: Any,
) -> BlockConfig:
    """A block of plain codes, e.g. ``block("T1L1G1", 8, 16, (4, 16, 16), heads=2)``."""
    cells = tuple(
        cell(code, c_in if i == 0 else c_out, c_out, size, **kw)
        for i, code in enumerate(codes(text))
    )
    return BlockConfig(text=text, cells=cells, dense=dense, checkpoint=checkpoint)


def halved(size: Size, k: int, depth: bool = False) -> Size:
    """The (D, H, W) size after k halvings (D only with depth; None stays None)."""
    d, h, w = size

    def half(n: int | None) -> int | None:
        return None if n is None else n // 2**k

    return (half(d) if depth else d, half(h), half(w))


def level_channels(channels: int | list[int], n: int) -> tuple[int, ...]:
    """C_l per level: a list as written, an int C as C * 2**l."""
    if isinstance(channels, int):
        return tuple(channels * 2**i for i in range(n))
    assert len(channels) == n
    return tuple(channels)


class _Blocks:
    """Builds the block of a level/stage: sized window and patch, the level's string."""

    def __init__(
        self,
        blocks: str | list[str],
        size: Size,
        depth: bool,
        window: tuple[int, int, int],
        patch: tuple[int, int, int],
        sizing: str,
        kw: dict[str, Any],
    ) -> None:
        self.blocks = [blocks] if isinstance(blocks, str) else list(blocks)
        self.size, self.depth = size, depth
        self.window, self.patch, self.sizing, self.kw = window, patch, sizing, kw

    def text(self, level: int) -> str:
        return self.blocks[min(level, len(self.blocks) - 1)]

    def __call__(self, text: str, c_in: int, c_out: int, k: int) -> BlockConfig:
        size = halved(self.size, k, self.depth)
        win, pat = sized_window(self.window, self.patch, size, k, self.sizing, self.depth)
        return block(text, c_in, c_out, size, window=win, patch=pat, **self.kw)


def unet(
    levels: int,
    *,
    size: Size,
    c_in: int = 1,
    channels: int | list[int] = 4,
    blocks: str | list[str] = "C2",
    decoder: str | list[str] | None = None,
    bridge: str | None = None,
    gate: bool = True,
    downsample: str = "interpolate",
    upsample: str = "linear",
    depth: bool = False,
    window: tuple[int, int, int] = (4, 4, 1),
    patch: tuple[int, int, int] = (2, 2, 1),
    sizing: str = "mixed",
    **kw: Any,
) -> UNetConfig:
    """A U-Net config with `levels` levels; ``kw`` goes to every cell."""
    chans = level_channels(channels, levels)
    enc_b = _Blocks(blocks, size, depth, window, patch, sizing, kw)
    dec_b = _Blocks(
        decoder if decoder is not None else blocks, size, depth, window, patch, sizing, kw
    )
    enc = tuple(
        enc_b(enc_b.text(l), c_in if l == 0 else chans[l - 1], chans[l], l) for l in range(levels)
    )
    down = tuple(ResampleConfig("down", downsample, (c, c), depth=depth) for c in chans)
    last = chans[-1]
    bridge_cfg = enc_b(bridge or enc_b.text(levels - 1), last, last, levels)
    up = tuple(ResampleConfig("up", upsample, (c, c), factor=2, depth=depth) for c in chans)
    dec = tuple(
        dec_b(dec_b.text(l), 2 * chans[l], chans[l - 1] if l > 0 else chans[0], l)
        for l in range(levels)
    )
    return UNetConfig(
        enc=enc, down=down, bridge=bridge_cfg, up=up, gate=gate, dec=dec, channels=chans
    )


def hrnet(
    levels: int,
    *,
    size: Size,
    c_in: int = 1,
    channels: int | list[int] = 4,
    blocks: str | list[str] = "C2",
    fusion: str | None = None,
    downsample: str = "interpolate",
    upsample: str = "linear",
    depth: bool = False,
    window: tuple[int, int, int] = (4, 4, 1),
    patch: tuple[int, int, int] = (2, 2, 1),
    sizing: str = "mixed",
    **kw: Any,
) -> HRNetConfig:
    """An HR-Net config with `levels` levels and stages; ``kw`` goes to every cell."""
    chans = level_channels(channels, levels)
    mk = _Blocks(blocks, size, depth, window, patch, sizing, kw)

    def resampler(l_from: int, l_to: int) -> ResampleConfig:
        if l_from < l_to:
            return ResampleConfig("down", downsample, chans[l_from : l_to + 1], depth=depth)
        factor = 2 ** (l_from - l_to)
        return ResampleConfig("up", upsample, (chans[l_from], chans[l_to]), factor, depth)

    blocks_cfg = []
    resamplers = []
    for s in range(levels):
        for l in range(s + 1):
            c = c_in if (l, s) == (0, 0) else chans[l]
            blocks_cfg.append(((l, s), mk(mk.text(l), c, chans[l], l)))
            if s > 0:
                resamplers += [((l, s, lf), resampler(lf, l)) for lf in range(l)]
    fusion_cfg = tuple(
        ((l, lf), resampler(lf, l)) for l in range(levels) for lf in range(levels) if lf != l
    )
    out = tuple(mk(fusion or mk.text(l), chans[l], chans[l], l) for l in range(levels))
    return HRNetConfig(
        levels=levels,
        channels=chans,
        blocks=tuple(blocks_cfg),
        resamplers=tuple(resamplers),
        fusion=fusion_cfg,
        out=out,
        upsample=upsample,
        depth=depth,
    )


def soanet(
    stages: list[str],
    *,
    size: Size,
    c_in: int = 1,
    channels: int | list[int] = 4,
    downsample: str | None = "interpolate",
    depth: bool = False,
    window: tuple[int, int, int] = (4, 4, 1),
    patch: tuple[int, int, int] = (2, 2, 1),
    sizing: str = "mixed",
    **kw: Any,
) -> SOANetConfig:
    """A SOANet config; an int C doubles per downsample; ``downsample=None`` turns it off."""
    n = len(stages)
    if isinstance(channels, int):
        chans = tuple(channels * 2**s if downsample else channels for s in range(n))
    else:
        chans = tuple(channels)
    mk = _Blocks(stages, size, depth, window, patch, sizing, kw)
    blocks_cfg, downs = [], []
    for s in range(n):
        k = s if downsample else 0
        if s > 0 and downsample:
            downs.append(ResampleConfig("down", downsample, (chans[s - 1], chans[s]), depth=depth))
            c = chans[s]
        else:
            downs.append(None)
            c = c_in if s == 0 else chans[s - 1]
        blocks_cfg.append(mk(stages[s], c, chans[s], k))
    return SOANetConfig(stages=tuple(blocks_cfg), down=tuple(downs))


def network(
    backbone: UNetConfig | HRNetConfig | SOANetConfig,
    *,
    channels: int,
    size: Size,
    step: tuple[int, int, int] = (1, 1, 1),
    minimum: tuple[int, int, int] = (1, 1, 1),
    stem: StemConfig | None = None,
    head: HeadConfig | None = None,
) -> NetworkConfig:
    """A network config around a backbone."""
    return NetworkConfig(
        input=InputConfig(channels=channels, size=size, step=step, minimum=minimum),
        backbone=backbone,
        stem=stem,
        head=head,
    )


def is_3d(code: str) -> bool:
    """Whether a cell code is a 3D family (conv333)."""
    return _FAMILY.get(code, code) in FAMILIES_3D
