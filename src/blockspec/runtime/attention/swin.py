"""Swin attention over 3D windows: `S3` (regular windows) and `Sh` (shifted windows).

A token is one voxel; a group is the wd·wh·ww voxels of one 3D window; the position grid is
the window itself. `Sh` rolls q, k and v by -s (s = floor(w/2) per axis, 0 on an axis with a
single window), masks pairs from different regions of the rolled map, and rolls the attention
result back by +s before the output projection. `patch` is ignored.

Names in the einops patterns: ``m*`` windows per map, ``p*`` voxels per window.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import torch
from einops import rearrange
from torch import Tensor

from blockspec.runtime.attention.base import WindowAttention, attend, combine_masks
from blockspec.runtime.config import CellConfig

__all__ = ["ShiftedSwinAttention", "SwinAttention", "swin_shifts"]


def swin_shifts(window: tuple[int, int, int], size: Sequence[int]) -> tuple[int, int, int]:
    """Shift per tensor axis (D, H, W) for a map of ``size`` (D, H, W) and a window (H, W, D):
    floor(w/2), or 0 where the window covers the whole axis."""
    wh, ww, wd = window
    d, h, w = size
    return tuple(0 if m == win else win // 2 for m, win in ((d, wd), (h, wh), (w, ww)))  # type: ignore[return-value]


class SwinAttention(WindowAttention):
    """`S3`: group = the voxels of one 3D window; T = wh·ww·wd."""

    def __init__(self, cfg: CellConfig) -> None:
        wh, ww, wd = cfg.window
        self.wh, self.ww, self.wd = wh, ww, wd
        super().__init__(cfg, token=(1, 1, 1), grid=(wd, wh, ww))

    def check(self, x: Tensor) -> None:
        self.require_windows(x, depth=True)

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
    """`Sh`: S3 on the map rolled by -s, pairs across regions masked, result rolled back.

    Only the last window along a shifted axis straddles two regions, and every window of
    the same kind (last or not along each axis) has the same mask; so the windows are
    attended in at most 8 sets, each with one ``[T, T]`` mask, instead of building a mask
    per window.
    """

    def partition(self, x: Tensor) -> Tensor:
        # [B, C, D, H, W] -> [B, Md, Mh, Mw, wd·wh·ww tokens, C]: windows keep their place
        return rearrange(
            x,
            "b c (md pd) (mh ph) (mw pw) -> b md mh mw (pd ph pw) c",
            pd=self.wd,
            ph=self.wh,
            pw=self.ww,
        )

    def merge(self, t: Tensor, shape: Sequence[int]) -> Tensor:
        return rearrange(
            t,
            "b md mh mw (pd ph pw) c -> b c (md pd) (mh ph) (mw pw)",
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

    def window_mask(self, last: Sequence[bool], shifts: Sequence[int], like: Tensor) -> Tensor:
        """Additive mask ``[1, 1, T, T]`` of a window that is the last one along the axes
        flagged in ``last`` (D, H, W): there its voxels at local coordinate < w - s lie in
        the region [M-w, M-s), the others in [M-s, M)."""
        ids = torch.zeros((), dtype=torch.long, device=like.device)
        for is_last, w, s in zip(last, (self.wd, self.wh, self.ww), shifts, strict=True):
            axis = torch.zeros(w, dtype=torch.long, device=like.device)
            if is_last:
                axis[w - s :] = 1
            ids = ids[..., None] * 2 + axis
        ids = ids.flatten()  # in the token order (pd ph pw)
        apart = ids[:, None] != ids[None, :]
        mask = torch.zeros(apart.shape, dtype=like.dtype, device=like.device)
        return mask.masked_fill(apart, float("-inf"))[None, None]

    def attend_groups(self, q: Tensor, k: Tensor, v: Tensor, shape: Sequence[int]) -> Tensor:
        size = (shape[2], shape[3], shape[4])
        shifts = swin_shifts(self.cfg.window, size)
        counts = q.shape[1:4]  # windows along D, H, W
        # per axis: (slice of windows, whether it is the last window of a shifted axis)
        parts = [
            [(slice(0, m - 1), False), (slice(m - 1, m), True)] if s > 0 else [(slice(0, m), False)]
            for m, s in zip(counts, shifts, strict=True)
        ]
        bias = self.bias()
        options = self.attend_options()
        y = v.new_empty(v.shape)
        for pd, ph, pw in itertools.product(*parts):
            where = (slice(None), pd[0], ph[0], pw[0])
            last = (pd[1], ph[1], pw[1])
            mask = self.window_mask(last, shifts, q) if any(last) else None
            qs, ks, vs = (t[where] for t in (q, k, v))
            out = attend(
                qs.flatten(0, 3),  # [windows of this kind, T, C]
                ks.flatten(0, 3),
                vs.flatten(0, 3),
                attn_mask=combine_masks(bias, mask),
                **options,
            )
            y[where] = out.reshape(vs.shape)
        return y
