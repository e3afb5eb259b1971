"""ViT attention: `V2` (each window of a frame is one token, the group is the frame) and `V3`
(each 3D window is one token, the group is the volume). Position grid: windows per map, so a
table needs the static size the module was built for. `patch` is ignored.

Names in the einops patterns: ``m*`` windows per map, ``p*`` pixels per window.
"""

from __future__ import annotations

from collections.abc import Sequence

from einops import rearrange
from torch import Tensor

from blockspec.runtime.attention.base import WindowAttention
from blockspec.runtime.attention.global_ import windows_per_map
from blockspec.runtime.config import CellConfig

__all__ = ["ViTAttention", "ViTAttention3d"]


class ViTAttention(WindowAttention):
    """`V2`: tokens = the windows of one frame (C·wh·ww features); T = (H/wh)(W/ww)."""

    def __init__(self, cfg: CellConfig) -> None:
        wh, ww, _ = cfg.window
        self.wh, self.ww = wh, ww
        grid = windows_per_map(cfg, "hw") if cfg.rel_pos_bias else ()
        super().__init__(cfg, token=(wh, ww, 1), grid=grid)

    def check(self, x: Tensor) -> None:
        self.require_windows(x, depth=False)
        if self.pos_table is not None:
            self.require_static(x, (3, 4))

    def partition(self, x: Tensor) -> Tensor:
        # [B, C, D, H, W] -> [B·D groups, Mh·Mw tokens, C·wh·ww]
        return rearrange(
            x, "b c d (mh ph) (mw pw) -> (b d) (mh mw) (c ph pw)", ph=self.wh, pw=self.ww
        )

    def merge(self, t: Tensor, shape: Sequence[int]) -> Tensor:
        b, _, d, h, w = shape
        return rearrange(
            t,
            "(b d) (mh mw) (c ph pw) -> b c d (mh ph) (mw pw)",
            b=b,
            mh=h // self.wh,
            ph=self.wh,
            pw=self.ww,
        )


class ViTAttention3d(WindowAttention):
    """`V3`: tokens = the 3D windows (C·wd·wh·ww features); T = (H/wh)(W/ww)(D/wd)."""

    def __init__(self, cfg: CellConfig) -> None:
        wh, ww, wd = cfg.window
        self.wh, self.ww, self.wd = wh, ww, wd
        grid = windows_per_map(cfg, "dhw") if cfg.rel_pos_bias else ()
        super().__init__(cfg, token=(wh, ww, wd), grid=grid)

    def check(self, x: Tensor) -> None:
        self.require_windows(x, depth=True)
        if self.pos_table is not None:
            self.require_static(x, (2, 3, 4))

    def partition(self, x: Tensor) -> Tensor:
        # [B, C, D, H, W] -> [B groups, Md·Mh·Mw tokens, C·wd·wh·ww]
        return rearrange(
            x,
            "b c (md pd) (mh ph) (mw pw) -> b (md mh mw) (c pd ph pw)",
            pd=self.wd,
            ph=self.wh,
            pw=self.ww,
        )

    def merge(self, t: Tensor, shape: Sequence[int]) -> Tensor:
        _, _, d, h, w = shape
        return rearrange(
            t,
            "b (md mh mw) (c pd ph pw) -> b c (md pd) (mh ph) (mw pw)",
            md=d // self.wd,
            mh=h // self.wh,
            pd=self.wd,
            ph=self.wh,
            pw=self.ww,
        )
