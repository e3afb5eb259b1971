"""What a backbone outputs: the one statement of it, for the head pass, the inference, the
summary and `model.feature_info`. (The runtime's forward computes the same tensors; the
promise test compares.)

A U-Net returns its level-0 decoder output, or with ``deep_supervision`` every level's
decoder output, coarsest first (so the main, full-resolution output is the last, as a head
reads it); an HR-Net its per-level outputs and then their aggregate (all
levels upsampled to level 0 and concatenated); a SOANet every stage's output (or with
``outputs = stage_inputs`` every stage's input), then its final downsample's output when it has
one, each through its output norm (``outputs.norm{i}`` when affine). A head reads the last of
these; ``per_output`` heads read one each. ``out_indices`` selects outputs.
"""

from __future__ import annotations

from . import ir

__all__ = [
    "backbone_outputs", "head_input", "output_shapes", "feature_info", "selected",
    "head_size_out", "upsampling",
]  # fmt: skip


def _named(bb, first: str = "stem") -> list[tuple[str, int, tuple]]:
    """(module, channels, (D, H, W)) of every tensor the backbone returns, in order.

    Works on the assembled backbone and on its skeleton (slots have `c_out` and `size` too).
    `first` names the module whose output the backbone receives (a SOANet's stage-0 input).
    """
    if isinstance(bb, ir.UNet):
        n = len(bb.levels)
        levels = reversed(range(n)) if bb.deep_supervision else range(1)
        return [(bb.levels[l].dec.path, bb.levels[l].dec.c_out, bb.levels[l].dec.size)
                for l in levels]  # fmt: skip
    if isinstance(bb, ir.HRNet):
        outs = [(b.path, b.c_out, b.size) for b in bb.out]
        return outs + [("aggregate", sum(bb.channels), bb.aggregate_size)]
    return _soanet(bb, first)


def _soanet(bb, first: str) -> list[tuple[str, int, tuple]]:
    if bb.outputs == "stage_inputs":
        outs, prev = [], (first, bb.stages[0].c_in, bb.stages[0].size)
        for d, b in zip(bb.down, bb.stages):
            outs.append(prev if d is None else (d.path, d.config.channels[-1], d.size_out))
            prev = (b.path, b.c_out, b.size)
    else:
        outs = [(b.path, b.c_out, b.size) for b in bb.stages]
    f = bb.final_down
    if f is not None:
        outs.append((f.path, f.config.channels[-1], f.size_out))
    if bb.norms:
        outs = [(n.path, c, size) for n, (_, c, size) in zip(bb.norms, outs)]
    return outs


def backbone_outputs(bb) -> list[tuple[int, tuple]]:
    """(channels, (D, H, W)) of every tensor the backbone returns, in order."""
    return [(c, size) for _, c, size in _named(bb)]


def selected(net: ir.Network) -> list[tuple[str, int, tuple]]:
    """The backbone outputs the network returns (or feeds its heads), `out_indices` applied."""
    outs = _named(net.backbone, "stem" if net.stem is not None else "input")
    if net.out_indices is None:
        return outs
    return [outs[i] for i in net.out_indices]


def head_input(bb) -> tuple[int, tuple]:
    """Channels and size of the tensor a head sees: the last backbone output."""
    return backbone_outputs(bb)[-1]


def head_size_out(h: ir.Head) -> tuple:
    """The (D, H, W) a conv head returns: its input's size times its upsampling factor."""
    return tuple(a * f if f != 1 else a for a, f in zip(h.size_in, h.config.factor))


def _head_shape(h: ir.Head) -> tuple:
    cfg = h.config
    return (cfg.n, *head_size_out(h)) if cfg.kind == "conv" else (cfg.n,)


def output_shapes(net: ir.Network) -> list[tuple]:
    """The shapes (without batch) the compiled network returns: one, or one per list item."""
    if net.head is not None:
        return [_head_shape(net.head)]
    if net.heads:
        return [_head_shape(h) for h in net.heads]
    return [(c, *size) for _, c, size in selected(net)]


def feature_info(net: ir.Network) -> list[dict]:
    """timm's `feature_info` of the backbone outputs: the module that makes each, its
    channels and its reduction of H (an int, or ``"H/k"`` text on a dynamic axis)."""
    h_in = net.input.size[1]
    out = []
    for module, c, size in selected(net):
        h = size[1]
        if isinstance(h_in, int) and isinstance(h, int):
            red: int | str = h_in // h
        else:
            red = h.div // getattr(h_in, "div", 1) if isinstance(h, ir.Sym) else str(h)
        out.append({"module": module, "num_chs": c, "reduction": red})
    return out


def upsampling(size_in: tuple, size: tuple) -> tuple[int, int, int] | None:
    """The integer factor per axis (D, H, W) from `size` back up to `size_in`, or None where
    one does not exist (a map is never larger than the input, so static sizes divide)."""
    out = []
    for a, b in zip(size_in, size):
        if isinstance(a, int) and isinstance(b, int):
            if b < 1 or a % b:
                return None
            out.append(a // b)
        elif isinstance(a, ir.Sym) and isinstance(b, ir.Sym) and b.div % a.div == 0:
            out.append(b.div // a.div)
        else:
            return None
    return (out[0], out[1], out[2])
