"""Swin attention over 3D windows: `S3` (regular windows) and `Sh` (shifted windows).

A token is one voxel; a group is the wd·wh·ww voxels of one 3D window; the position grid is
the window itself. `Sh` rolls q, k and v by -s (s = floor(w/2) per axis, 0 on an axis with a
single window), masks pairs from different regions of the rolled map, and rolls the attention
result back by +s before the output projection. `patch` is ignored. With ``window_padding``
all of this runs on the zero-padded map (`tiling.WindowPadding`): the shifts and the region
mask are those of the padded size.

Names in the einops patterns: ``m*`` windows per map, ``p*`` voxels per window.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from blockspec.runtime.attention.base import WindowAttention, attend, combine_masks
from blockspec.runtime.attention.tiling import Tiling, WindowPadding, padded_size
from blockspec.runtime.config import CellConfig

__all__ = ["ShiftedSwinAttention", "SwinAttention", "region_mask", "swin_shifts"]


def swin_shifts(window: tuple[int, int, int], size: Sequence[int]) -> tuple[int, int, int]:
    """Shift per tensor axis (D, H, W) for a map of ``size`` (D, H, W) and a window (H, W, D):
    floor(w/2), or 0 where the window covers the whole axis."""
    wh, ww, wd = window
    d, h, w = size
    return tuple(0 if m == win else win // 2 for m, win in ((d, wd), (h, wh), (w, ww)))  # type: ignore[return-value]


class SwinAttention(WindowPadding, WindowAttention):
    """`S3`: group = the voxels of one 3D window; T = wh·ww·wd."""

    def __init__(self, cfg: CellConfig) -> None:
        wh, ww, wd = cfg.window
        self.wh, self.ww, self.wd = wh, ww, wd
        super().__init__(cfg, token=(1, 1, 1), grid=(wd, wh, ww))
        self.tiling = Tiling(cfg.window, (1, 1, 1), three_d=True, local=True)


def region_mask(
    window: tuple[int, int, int], size: Sequence[int], device: torch.device | None = None
) -> Tensor:
    """Additive mask ``[Md·Mh·Mw, 1, T, T]`` (0 / -inf) of the windows of a map of ``size``
    (D, H, W) rolled by -s (`swin_shifts`): a pair is masked when its voxels come from
    different regions of the unrolled map. Windows in `partition` order, tokens (pd ph pw).

    Along a shifted axis only the last window straddles two regions: there the voxels at
    local coordinate >= w - s belong to the wrapped region.
    """
    wh, ww, wd = window
    shifts = swin_shifts(window, size)
    ids = torch.zeros((1, 1), dtype=torch.long, device=device)  # [windows, tokens]
    for m, w, s in zip(size, (wd, wh, ww), shifts, strict=True):
        n = m // w
        axis = torch.zeros((n, w), dtype=torch.long, device=device)
        if s > 0:
            axis[n - 1, w - s :] = 1
        # windows and tokens both row-major over (D, H, W): combine axis by axis
        ids = (ids[:, None, :, None] * 2 + axis[None, :, None, :]).flatten(2).flatten(0, 1)
    apart = ids[:, :, None] != ids[:, None, :]
    mask = torch.zeros(apart.shape, device=device).masked_fill(apart, float("-inf"))
    return mask[:, None]


class ShiftedSwinAttention(SwinAttention):
    """`Sh`: S3 on the map rolled by -s, pairs across regions masked, result rolled back.

    All windows are attended in one call with a per-window mask ``[Md·Mh·Mw, 1, T, T]``
    (`region_mask`) plus the position bias. The mask depends on the map size only: for a
    static size it is built once as a non-persistent buffer (it follows ``.to()`` and stays
    out of ``state_dict``); for a dynamic size it is cached per (size, device, dtype).
    """

    def __init__(self, cfg: CellConfig) -> None:
        super().__init__(cfg)
        self._masks: dict[tuple, Tensor] = {}
        self.static_size = tuple(cfg.size) if all(isinstance(n, int) for n in cfg.size) else None
        if self.static_size is not None and cfg.window_padding:
            self.static_size = padded_size(self.static_size, cfg.window, True)  # type: ignore[arg-type]
        if self.static_size is not None and self._fits(self.static_size):
            mask = region_mask(cfg.window, self.static_size)
            self.register_buffer("region_mask", mask, persistent=False)
        else:
            self.region_mask = None

    def _fits(self, size: Sequence[int]) -> bool:
        return all(m % w == 0 for m, w in zip(size, (self.wd, self.wh, self.ww), strict=True))

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

    def mask_for(self, size: tuple[int, int, int], like: Tensor) -> Tensor | None:
        """The region mask of a map of ``size`` in ``like``'s dtype and device, or None when
        no axis is shifted."""
        if swin_shifts(self.cfg.window, size) == (0, 0, 0):
            return None
        if self.region_mask is not None and size == self.static_size:
            return self.region_mask.to(like.dtype)
        if torch.compiler.is_compiling():
            return region_mask(self.cfg.window, size, like.device).to(like.dtype)
        key = (size, like.device, like.dtype)
        mask = self._masks.get(key)
        if mask is None:
            mask = region_mask(self.cfg.window, size, like.device).to(like.dtype)
            self._masks.clear()  # one size at a time: a dynamic model's memory stays bounded
            self._masks[key] = mask
        return mask

    def attend_groups(self, q: Tensor, k: Tensor, v: Tensor, shape: Sequence[int]) -> Tensor:
        b = shape[0]
        mask = self.mask_for((shape[2], shape[3], shape[4]), q)
        mask = combine_masks(self.bias(), mask)  # [windows or 1, n or 1, T, T]
        options = self.attend_options()
        if mask is not None and b > 1 and mask.shape[0] > 1:
            # one mask per (sample, window), as torch's fused CPU kernel wants 4D inputs
            mask = mask.expand(b, *mask.shape).flatten(0, 1)
        return attend(q, k, v, attn_mask=mask, **options)
