"""Graphviz DOT for a network, laid out as its backbone's shape (`blockspec graph`).

* U-Net: a U. The encoder runs down the left, the bridge sits at the bottom, the decoder runs
  up the right; each level is one row (a cluster), with its skip connection drawn across and
  the attention gate (a diamond) on it. Down- and up-samplers are small nodes between rows.
* HR-Net: a grid. Levels are rows, stages are columns (clusters), then a fusion column and
  the aggregate. Resamplers are coloured edges (blue down, red up) named by their path.
* SOANet: a column: input, stem, the stages with their downsampling edges, head, output.

Every block shows its path, block string, channels, spatial size (D×H×W) and parameters.
The text is plain DOT with HTML labels; nothing here needs Graphviz to be installed.
"""

from __future__ import annotations

from ..compiler import ir
from ..compiler.infer import infer
from .dot import Dot, count, header
from .layouts import hrnet, soanet, unet

__all__ = ["to_dot"]


def to_dot(net: ir.Network, title: str | None = None) -> str:
    """The DOT text of `net`'s architecture picture; `title` defaults to the spec's file."""
    rows = list(net.stats) or infer(net)
    d = Dot(net, rows)
    bb = net.backbone
    name = title if title is not None else net.file
    if isinstance(bb, ir.UNet):
        kind = f"U-Net, {count(len(bb.levels), 'level')}"
        header(d, name, kind)
        unet(d, bb)
    elif isinstance(bb, ir.HRNet):
        kind = f"HR-Net, {count(len(bb.channels), 'level')}"
        header(d, name, kind)
        hrnet(d, bb)
    else:
        kind = f"SOANet, {count(len(bb.stages), 'stage')}"
        header(d, name, kind)
        soanet(d, bb)
    d.raw("}")
    return "\n".join(line for line in d.lines if line) + "\n"
