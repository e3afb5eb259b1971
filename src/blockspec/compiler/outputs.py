"""What a backbone outputs: the one statement of it, for the head pass, the inference and
the summary. (The runtime's forward computes the same tensors; the promise test compares.)

A U-Net returns its level-0 decoder output; an HR-Net its per-level outputs and then their
aggregate (all levels upsampled to level 0 and concatenated); a SOANet every stage's output.
A head reads the last of these.
"""

from __future__ import annotations

from . import ir

__all__ = ["backbone_outputs", "head_input", "output_shapes"]


def backbone_outputs(bb) -> list[tuple[int, tuple]]:
    """(channels, (D, H, W)) of every tensor the backbone returns, in order.

    Works on the assembled backbone and on its skeleton (slots have `c_out` and `size` too).
    """
    if isinstance(bb, ir.UNet):
        dec = bb.levels[0].dec
        return [(dec.c_out, dec.size)]
    if isinstance(bb, ir.HRNet):
        return [(b.c_out, b.size) for b in bb.out] + [(sum(bb.channels), bb.aggregate_size)]
    return [(b.c_out, b.size) for b in bb.stages]


def head_input(bb) -> tuple[int, tuple]:
    """Channels and size of the tensor a head sees: the last backbone output."""
    return backbone_outputs(bb)[-1]


def output_shapes(net: ir.Network) -> list[tuple]:
    """The shapes (without batch) the compiled network returns: one, or one per list item."""
    if net.head is not None:
        cfg = net.head.config
        return [(cfg.n, *net.head.size_in) if cfg.kind == "conv" else (cfg.n,)]
    return [(c, *size) for c, size in backbone_outputs(net.backbone)]
