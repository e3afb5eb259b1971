"""Global attention: `G` (the patch at the same position in every window of one frame) and
`G3` (the same-position 3D patch of every 3D window). Position grid: windows per map, so a
table needs the static size the module was built for.

The map is cut into groups of tokens by `tiling.Tiling`.
"""

from __future__ import annotations

from blockspec.errors import ShapeError
from blockspec.runtime.attention.base import WindowAttention
from blockspec.runtime.attention.local import check_patch_divides_window
from blockspec.runtime.attention.tiling import Tiling
from blockspec.runtime.config import CellConfig

__all__ = ["GlobalAttention", "GlobalAttention3d", "windows_per_map"]


def windows_per_map(cfg: CellConfig, axes: str) -> tuple[int, ...]:
    """Windows per map along ``axes`` (a string over "dhw", in that order) from the static
    ``cfg.size``; the grid of a G/G3/V2/V3 position table. Raises `ShapeError` when the size
    is dynamic or not a multiple of the window (only called when ``rel_pos_bias``)."""
    window = {"h": cfg.window[0], "w": cfg.window[1], "d": cfg.window[2]}
    size = {"d": cfg.size[0], "h": cfg.size[1], "w": cfg.size[2]}
    grid = []
    for axis in axes:
        m = size[axis]
        if m is None:
            raise ShapeError(
                f"{cfg.code} with rel_pos_bias needs a static size along {axis.upper()}",
                hint="set rel_pos_bias = false for dynamic sizes",
            )
        if m % window[axis] != 0:
            raise ShapeError(
                f"{cfg.code}: the map's {axis.upper()} {m} is not a multiple of the window "
                f"{window[axis]}"
            )
        grid.append(m // window[axis])
    return tuple(grid)


class _GlobalFamily(WindowAttention):
    """A global family: every group holds the tokens at one place of every window. Tokens are
    patches (G, G3) or whole windows (V2, V3); the position grid is the windows per map."""

    three_d = False
    patched = True

    def __init__(self, cfg: CellConfig) -> None:
        if self.patched:
            check_patch_divides_window(cfg, "hwd" if self.three_d else "hw")
        tile = cfg.patch if self.patched else cfg.window  # (H, W, D) pixels per token
        token = tile if self.three_d else (tile[0], tile[1], 1)
        grid = windows_per_map(cfg, "dhw" if self.three_d else "hw") if cfg.rel_pos_bias else ()
        super().__init__(cfg, token=token, grid=grid)
        self.tiling = Tiling(cfg.window, tile, three_d=self.three_d, local=False)


class GlobalAttention(_GlobalFamily):
    """`G`: group = same-position patch of every window of one frame; T = (H/wh)(W/ww)."""


class GlobalAttention3d(_GlobalFamily):
    """`G3`: group = same-position 3D patch of every 3D window; T = (H/wh)(W/ww)(D/wd)."""

    three_d = True
