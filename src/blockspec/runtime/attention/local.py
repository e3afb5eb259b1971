"""Local attention: `L` (the patches of one window of one frame) and `L3` (the 3D patches of
one 3D window). Position grid: patches per window.

The map is cut into groups of tokens by `tiling.Tiling` (padded first with
``window_padding``: `tiling.WindowPadding`).
"""

from __future__ import annotations

from blockspec.errors import ShapeError
from blockspec.runtime.attention.base import WindowAttention
from blockspec.runtime.attention.tiling import Tiling, WindowPadding
from blockspec.runtime.config import CellConfig

__all__ = ["LocalAttention", "LocalAttention3d", "check_patch_divides_window"]


def check_patch_divides_window(cfg: CellConfig, axes: str) -> None:
    """Raise `ShapeError` unless the patch divides the window on the given axes ("hw"/"hwd")."""
    for i, axis in enumerate("hwd"):
        if axis in axes and cfg.window[i] % cfg.patch[i] != 0:
            raise ShapeError(
                f"{cfg.code}: the patch {cfg.patch} does not divide the window {cfg.window}"
            )


class LocalAttention(WindowPadding, WindowAttention):
    """`L`: group = the patches of one window of one frame; T = (wh/ph)(ww/pw)."""

    def __init__(self, cfg: CellConfig) -> None:
        check_patch_divides_window(cfg, "hw")
        (wh, ww, _), (ph, pw, _) = cfg.window, cfg.patch
        super().__init__(cfg, token=(ph, pw, 1), grid=(wh // ph, ww // pw))
        self.tiling = Tiling(cfg.window, cfg.patch, three_d=False, local=True)


class LocalAttention3d(WindowPadding, WindowAttention):
    """`L3`: group = the 3D patches of one 3D window; T = (wh/ph)(ww/pw)(wd/pd)."""

    def __init__(self, cfg: CellConfig) -> None:
        check_patch_divides_window(cfg, "hwd")
        (wh, ww, wd), (ph, pw, pd) = cfg.window, cfg.patch
        super().__init__(cfg, token=(ph, pw, pd), grid=(wd // pd, wh // ph, ww // pw))
        self.tiling = Tiling(cfg.window, cfg.patch, three_d=True, local=True)
