"""ViT attention: `V2` (each window of a frame is one token, the group is the frame) and `V3`
(each 3D window is one token, the group is the volume). Position grid: windows per map, so a
table needs the static size the module was built for. `patch` is ignored.

Names in the einops patterns: ``m*`` windows per map, ``p*`` pixels per window.
"""

from __future__ import annotations

from blockspec.runtime.attention.base import WindowAttention
from blockspec.runtime.attention.global_ import windows_per_map
from blockspec.runtime.attention.tiling import Tiling
from blockspec.runtime.config import CellConfig

__all__ = ["ViTAttention", "ViTAttention3d"]


class ViTAttention(WindowAttention):
    """`V2`: tokens = the windows of one frame (C·wh·ww features); T = (H/wh)(W/ww)."""

    def __init__(self, cfg: CellConfig) -> None:
        wh, ww, _ = cfg.window
        self.wh, self.ww = wh, ww
        grid = windows_per_map(cfg, "hw") if cfg.rel_pos_bias else ()
        super().__init__(cfg, token=(wh, ww, 1), grid=grid)
        self.tiling = Tiling(cfg.window, cfg.window, three_d=False, local=False)


class ViTAttention3d(WindowAttention):
    """`V3`: tokens = the 3D windows (C·wd·wh·ww features); T = (H/wh)(W/ww)(D/wd)."""

    def __init__(self, cfg: CellConfig) -> None:
        wh, ww, wd = cfg.window
        self.wh, self.ww, self.wd = wh, ww, wd
        grid = windows_per_map(cfg, "dhw") if cfg.rel_pos_bias else ()
        super().__init__(cfg, token=(wh, ww, wd), grid=grid)
        self.tiling = Tiling(cfg.window, cfg.window, three_d=True, local=False)
