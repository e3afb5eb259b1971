"""Swin attention over 3D windows: `S3` (regular windows) and `Sh` (shifted windows).

A token is one voxel; a group is the wd·wh·ww voxels of one 3D window; the position grid is
the window itself. `Sh` rolls q, k and v by -s (s = floor(w/2) per axis, 0 on an axis with a
single window), masks pairs from different regions of the rolled map, and rolls the attention
result back by +s before the output projection. `patch` is ignored.

Names in the einops patterns: ``m*`` windows per map, ``p*`` voxels per window.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from einops import rearrange
from torch import Tensor

from blockspec.runtime.attention.base import WindowAttention
from blockspec.runtime.config import CellConfig
from blockspec.runtime.layers import require_multiple

__all__ = ["ShiftedSwinAttention", "SwinAttention", "region_ids", "swin_shifts"]


def swin_shifts(window: tuple[int, int, int], size: Sequence[int]) -> tuple[int, int, int]:
    """Shift per tensor axis (D, H, W) for a map of ``size`` (D, H, W) and a window (H, W, D):
    floor(w/2), or 0 where the window covers the whole axis."""
    wh, ww, wd = window
    d, h, w = size
    return tuple(0 if m == win else win // 2 for m, win in ((d, wd), (h, wh), (w, ww)))  # type: ignore[return-value]


def region_ids(size: Sequence[int], window: Sequence[int], shift: Sequence[int]) -> Tensor:
    """Region number of every voxel of the rolled map, ``[D, H, W]`` (int64).

    Along an axis of size M with window w and shift s > 0 the regions are [0, M-w),
    [M-w, M-s), [M-s, M); with s = 0 the axis is one region. ``window`` here is per tensor
    axis (D, H, W), like ``size`` and ``shift``.
    """
    ids = torch.zeros((), dtype=torch.long)
    for m, w, s in zip(size, window, shift, strict=True):
        axis = torch.zeros(m, dtype=torch.long)
        if s > 0:
            axis[m - w : m - s] = 1
            axis[m - s :] = 2
        ids = ids[..., None] * 3 + axis
    return ids


class SwinAttention(WindowAttention):
    """`S3`: group = the voxels of one 3D window; T = wh·ww·wd."""

    def __init__(self, cfg: CellConfig) -> None:
        wh, ww, wd = cfg.window
        self.wh, self.ww, self.wd = wh, ww, wd
        super().__init__(cfg, token=(1, 1, 1), grid=(wd, wh, ww))

    def check(self, x: Tensor) -> None:
        require_multiple(self.cfg.code, "depth", x.shape[2], self.wd, "window depth")
        require_multiple(self.cfg.code, "height", x.shape[3], self.wh, "window height")
        require_multiple(self.cfg.code, "width", x.shape[4], self.ww, "window width")

    def partition(self, x: Tensor) -> Tensor:
        # [B, C, D, H, W] -> [B·Md·Mh·Mw groups, wd·wh·ww tokens, C]
        return rearrange(
            x,
            "b c (md pd) (mh ph) (mw pw) -> (b md mh mw) (pd ph pw) c",
            pd=self.wd,
            ph=self.wh,
            pw=self.ww,
        )

    def merge(self, t: Tensor, shape: Sequence[int]) -> Tensor:
        b, _, d, h, w = shape
        return rearrange(
            t,
            "(b md mh mw) (pd ph pw) c -> b c (md pd) (mh ph) (mw pw)",
            b=b,
            md=d // self.wd,
            mh=h // self.wh,
            pd=self.wd,
            ph=self.wh,
            pw=self.ww,
        )


class ShiftedSwinAttention(SwinAttention):
    """`Sh`: S3 on the map rolled by -s, pairs across regions masked, result rolled back."""

    def partition(self, x: Tensor) -> Tensor:
        # [B, C, D, H, W] -> [B, Md·Mh·Mw windows, wd·wh·ww tokens, C]: the window axis stays
        # separate so the per-window mask broadcasts over the batch
        return rearrange(
            x,
            "b c (md pd) (mh ph) (mw pw) -> b (md mh mw) (pd ph pw) c",
            pd=self.wd,
            ph=self.wh,
            pw=self.ww,
        )

    def merge(self, t: Tensor, shape: Sequence[int]) -> Tensor:
        _, _, d, h, w = shape
        return rearrange(
            t,
            "b (md mh mw) (pd ph pw) c -> b c (md pd) (mh ph) (mw pw)",
            md=d // self.wd,
            mh=h // self.wh,
            pd=self.wd,
            ph=self.wh,
            pw=self.ww,
        )

    def _shifts(self, x: Tensor) -> tuple[int, int, int]:
        return swin_shifts(self.cfg.window, (x.shape[2], x.shape[3], x.shape[4]))

    def shift(self, x: Tensor) -> Tensor:
        sd, sh, sw = self._shifts(x)
        if sd == sh == sw == 0:
            return x
        return torch.roll(x, shifts=(-sd, -sh, -sw), dims=(2, 3, 4))

    def unshift(self, x: Tensor) -> Tensor:
        sd, sh, sw = self._shifts(x)
        if sd == sh == sw == 0:
            return x
        return torch.roll(x, shifts=(sd, sh, sw), dims=(2, 3, 4))

    def mask(self, shape: Sequence[int], x: Tensor) -> Tensor | None:
        size = (shape[2], shape[3], shape[4])
        shifts = swin_shifts(self.cfg.window, size)
        if shifts == (0, 0, 0):
            return None
        ids = region_ids(size, (self.wd, self.wh, self.ww), shifts).to(x.device)
        # [D, H, W] -> [windows, tokens]
        ids = rearrange(
            ids,
            "(md pd) (mh ph) (mw pw) -> (md mh mw) (pd ph pw)",
            pd=self.wd,
            ph=self.wh,
            pw=self.ww,
        )
        apart = ids[:, :, None] != ids[:, None, :]  # [windows, T, T]
        mask = torch.zeros(apart.shape, dtype=x.dtype, device=x.device)
        mask = mask.masked_fill(apart, float("-inf"))
        return mask[:, None]  # [windows, 1 (heads), T, T]
