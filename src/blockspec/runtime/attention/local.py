"""Local attention: `L` (the patches of one window of one frame) and `L3` (the 3D patches of
one 3D window). Position grid: patches per window.

Names in the einops patterns: ``m*`` windows per map, ``n*`` patches per window, ``p*`` pixels
per patch, along d (depth/frames), h, w.
"""

from __future__ import annotations

from collections.abc import Sequence

from einops import rearrange
from torch import Tensor

from blockspec.errors import ShapeError
from blockspec.runtime.attention.base import WindowAttention
from blockspec.runtime.config import CellConfig

__all__ = ["LocalAttention", "LocalAttention3d", "check_patch_divides_window"]


def check_patch_divides_window(cfg: CellConfig, axes: str) -> None:
    """Raise `ShapeError` unless the patch divides the window on the given axes ("hw"/"hwd")."""
    for i, axis in enumerate("hwd"):
        if axis in axes and cfg.window[i] % cfg.patch[i] != 0:
            raise ShapeError(
                f"{cfg.code}: the patch {cfg.patch} does not divide the window {cfg.window}"
            )


class LocalAttention(WindowAttention):
    """`L`: group = the patches of one window of one frame; T = (wh/ph)(ww/pw)."""

    def __init__(self, cfg: CellConfig) -> None:
        check_patch_divides_window(cfg, "hw")
        wh, ww, _ = cfg.window
        ph, pw, _ = cfg.patch
        self.wh, self.ww, self.ph, self.pw = wh, ww, ph, pw
        super().__init__(cfg, token=(ph, pw, 1), grid=(wh // ph, ww // pw))

    def check(self, x: Tensor) -> None:
        self.require_windows(x, depth=False)

    def partition(self, x: Tensor) -> Tensor:
        # [B, C, D, H, W] -> [B·D·Mh·Mw groups, Nh·Nw tokens, C·ph·pw]
        return rearrange(
            x,
            "b c d (mh nh ph) (mw nw pw) -> (b d mh mw) (nh nw) (c ph pw)",
            nh=self.wh // self.ph,
            nw=self.ww // self.pw,
            ph=self.ph,
            pw=self.pw,
        )

    def merge(self, t: Tensor, shape: Sequence[int]) -> Tensor:
        b, _, d, h, w = shape
        return rearrange(
            t,
            "(b d mh mw) (nh nw) (c ph pw) -> b c d (mh nh ph) (mw nw pw)",
            b=b,
            d=d,
            mh=h // self.wh,
            mw=w // self.ww,
            nh=self.wh // self.ph,
            ph=self.ph,
            pw=self.pw,
        )


class LocalAttention3d(WindowAttention):
    """`L3`: group = the 3D patches of one 3D window; T = (wh/ph)(ww/pw)(wd/pd)."""

    def __init__(self, cfg: CellConfig) -> None:
        check_patch_divides_window(cfg, "hwd")
        wh, ww, wd = cfg.window
        ph, pw, pd = cfg.patch
        self.wh, self.ww, self.wd, self.ph, self.pw, self.pd = wh, ww, wd, ph, pw, pd
        super().__init__(cfg, token=(ph, pw, pd), grid=(wd // pd, wh // ph, ww // pw))

    def check(self, x: Tensor) -> None:
        self.require_windows(x, depth=True)

    def partition(self, x: Tensor) -> Tensor:
        # [B, C, D, H, W] -> [B·Md·Mh·Mw groups, Nd·Nh·Nw tokens, C·pd·ph·pw]
        return rearrange(
            x,
            "b c (md nd pd) (mh nh ph) (mw nw pw) -> (b md mh mw) (nd nh nw) (c pd ph pw)",
            nd=self.wd // self.pd,
            nh=self.wh // self.ph,
            nw=self.ww // self.pw,
            pd=self.pd,
            ph=self.ph,
            pw=self.pw,
        )

    def merge(self, t: Tensor, shape: Sequence[int]) -> Tensor:
        b, _, d, h, w = shape
        return rearrange(
            t,
            "(b md mh mw) (nd nh nw) (c pd ph pw) -> b c (md nd pd) (mh nh ph) (mw nw pw)",
            b=b,
            md=d // self.wd,
            mh=h // self.wh,
            mw=w // self.ww,
            nd=self.wd // self.pd,
            nh=self.wh // self.ph,
            pd=self.pd,
            ph=self.ph,
            pw=self.pw,
        )
