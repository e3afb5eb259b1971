"""How every windowed family cuts a map into groups of tokens: one construction.

Along each partitioned axis a map is ``m`` windows of ``n`` patches of ``p`` pixels. A token
is one patch (its ``C·p…`` values); a *local* family groups the ``n`` patches of a window
(L, L3, and S3/Sh with one-voxel patches), a *global* family groups the ``m`` patches at the
same place of every window (G, G3, and V2/V3 whose patch is the whole window). 2D families
keep the frames (D) in the batch of groups; 3D ones partition D too.

`WindowPadding` (``window_padding``): where the window does not divide the map, the core runs
on the map padded with zeros at the end of each partitioned axis to a multiple of the window,
and its result is cropped back.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch.nn.functional as F
from einops import rearrange
from torch import Tensor

__all__ = ["Tiling", "WindowPadding", "padded_size"]


def padded_size(
    size: Sequence[int], window: tuple[int, int, int], three_d: bool
) -> tuple[int, int, int]:
    """(D, H, W) rounded up to a multiple of the window (H, W, D) on the partitioned axes
    (D only when `three_d`)."""
    wh, ww, wd = window
    d, h, w = size
    up = lambda n, k: -(-n // k) * k  # noqa: E731
    return (up(d, wd) if three_d else d, up(h, wh), up(w, ww))


class WindowPadding:
    """Mixin for a windowed core (before `WindowAttention` in the bases): with
    ``cfg.window_padding`` its forward pads, runs the core, and crops."""

    def forward(self, x: Tensor) -> Tensor:
        cfg = self.cfg  # type: ignore[attr-defined]
        if not cfg.window_padding:
            return super().forward(x)  # type: ignore[misc]
        d, h, w = x.shape[2], x.shape[3], x.shape[4]
        pd, ph, pw = padded_size((d, h, w), cfg.window, self.tiling.three_d)  # type: ignore[attr-defined]
        if (pd, ph, pw) == (d, h, w):
            return super().forward(x)  # type: ignore[misc]
        y = super().forward(F.pad(x, (0, pw - w, 0, ph - h, 0, pd - d)))  # type: ignore[misc]
        return y[:, :, :d, :h, :w]


@dataclass(frozen=True)
class Tiling:
    """`window` and `patch` are (H, W, D) as in the spec."""

    window: tuple[int, int, int]
    patch: tuple[int, int, int]
    three_d: bool
    local: bool

    @property
    def axes(self) -> str:
        return "dhw" if self.three_d else "hw"

    def _len(self, sizes: tuple[int, int, int], axis: str) -> int:
        return sizes["hwd".index(axis)]

    def __post_init__(self) -> None:
        # built once (not lazily: torch.compile cannot trace a lazy property's lock)
        object.__setattr__(self, "patterns", self._patterns())

    def _patterns(self) -> tuple[str, str]:
        """The einops sides: the map, and (groups) (tokens) (features)."""
        axes = self.axes
        split = " ".join(f"(m{a} n{a} p{a})" for a in axes)
        source = f"b c {split}" if self.three_d else f"b c d {split}"
        outer, inner = ("m", "n") if self.local else ("n", "m")
        groups = " ".join(outer + a for a in axes)
        tokens = " ".join(inner + a for a in axes)
        batch = "b" if self.three_d else "b d"
        feats = " ".join("p" + a for a in axes)
        return source, f"({batch} {groups}) ({tokens}) (c {feats})"

    def _sizes(self) -> dict[str, int]:
        out = {}
        for a in self.axes:
            w, p = self._len(self.window, a), self._len(self.patch, a)
            out[f"n{a}"], out[f"p{a}"] = w // p, p
        return out

    def partition(self, x: Tensor) -> Tensor:
        """``[B, C, D, H, W]`` -> ``[groups, tokens, C·|patch|]``."""
        source, target = self.patterns
        return rearrange(x, f"{source} -> {target}", **self._sizes())

    def merge(self, t: Tensor, shape: Sequence[int]) -> Tensor:
        """Inverse of `partition` for a map of ``shape`` ``(B, C, D, H, W)``."""
        source, target = self.patterns
        b, _, d, h, w = shape
        sizes = self._sizes()
        for a, n in zip("dhw", (d, h, w)):
            if a in self.axes:
                sizes[f"m{a}"] = n // self._len(self.window, a)
        if not self.three_d:
            sizes["d"] = d
        return rearrange(t, f"{target} -> {source}", b=b, **sizes)
