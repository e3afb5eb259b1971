"""ViT attention: `V2` (each window of a frame is one token, the group is the frame) and `V3`
(each 3D window is one token, the group is the volume). Position grid: windows per map, so a
table needs the static size the module was built for. `patch` is ignored.

The map is cut into groups of tokens by `tiling.Tiling`.
"""

from __future__ import annotations

from blockspec.runtime.attention.global_ import _GlobalFamily

__all__ = ["ViTAttention", "ViTAttention3d"]


class ViTAttention(_GlobalFamily):
    """`V2`: tokens = the windows of one frame (C·wh·ww features); T = (H/wh)(W/ww)."""

    patched = False


class ViTAttention3d(_GlobalFamily):
    """`V3`: tokens = the 3D windows (C·wd·wh·ww features); T = (H/wh)(W/ww)(D/wd)."""

    three_d = True
    patched = False
