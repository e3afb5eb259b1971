"""Shape, parameter, FLOP and activation-memory inference: the one place these are computed.

Everything is derived from SEMANTICS.md's definitions, never from the runtime's modules, so a
test can compare the two.

What is counted:
- **params**: every learned tensor element, exactly as SEMANTICS.md defines the modules.
- **FLOPs**: 2 per multiply-add of convolutions, linear layers and the two attention matmuls
  (Q·K and attention·V), for one sample (batch 1). Biases, norms, activations, softmax,
  interpolation, residual sums and masks are not counted.
- **activation memory**: an estimate, in bytes, of the float32 tensors a training forward keeps
  for backward at batch 1: per cell its input, normalised input, Q, K, V, attention
  probabilities, attention output and projection, and the mixer's normalised input and hidden
  pre/post-activation maps; per resampler, gate, stem and head their inputs and outputs.
Dynamic (``?``) sizes are evaluated at the smallest valid size (`Input.minimum`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from math import prod

from . import ir
from .costs import (
    BYTES,
    ZERO,
    Stats,
    cell_flops,
    cell_memory,
    cell_params,
    conv_params,
    norm_params,
    token_pixels,
)
from .outputs import head_size_out, output_shapes
from .state import Unit
from .tokens import token_row

__all__ = [
    "Stats", "NodeStats", "infer", "cell_params", "cell_flops", "token_pixels", "output_shapes",
    "run",
]  # fmt: skip


@dataclass(frozen=True)
class NodeStats:
    """One row of the summary: a module-level node with its shapes and costs."""

    path: str
    kind: str
    in_shape: tuple  # (C, D, H, W), symbolic axes as ir.Sym
    out_shape: tuple
    stats: Stats
    node: object  # the IR node


# ----------------------------------------------------------------------------- other nodes
def resample_stats(node: ir.Resample, inp: ir.Input) -> Stats:
    cfg = node.config
    size_in = ir.concrete(node.size_in, inp)
    size_out = ir.concrete(node.size_out, inp)
    if cfg.direction == "up":
        ci, co = cfg.channels[0], cfg.channels[-1]
        n = prod(size_out)
        return Stats(
            conv_params(ci, co, 1), 2 * ci * co * n, BYTES * (ci * prod(size_in) + 2 * ci * n)
        )
    params = flops = mem = 0
    d, h, w = size_in
    for ci, co in zip(cfg.channels[:-1], cfg.channels[1:]):
        d2 = d // 2 if cfg.depth else d
        h2, w2 = h // 2, w // 2
        n_out = d2 * h2 * w2
        if cfg.method == "interpolate":
            params += conv_params(ci, co, 1)
            flops += 2 * ci * co * n_out
            mem += BYTES * (ci * d * h * w + ci * n_out)
        elif cfg.method == "stride":
            kk = 27 if cfg.depth else 9
            params += conv_params(ci, co, kk)
            flops += 2 * ci * co * kk * n_out
            mem += BYTES * ci * d * h * w
        else:  # merge
            f = 8 if cfg.depth else 4
            params += conv_params(f * ci, co, 1, bias=False)
            flops += 2 * f * ci * co * n_out
            mem += BYTES * ci * d * h * w
            if cfg.norm is not None:  # channel_layer over the f·ci folded channels
                params += norm_params(cfg.norm, f * ci, h2, w2)
                mem += BYTES * f * ci * n_out
        d, h, w = d2, h2, w2
    return Stats(params, flops, mem)


def gate_stats(node: ir.Gate, inp: ir.Input) -> Stats:
    c = node.channels
    n = prod(ir.concrete(node.size, inp))
    params = 2 * conv_params(c, c, 1) + conv_params(c, 1, 1)
    flops = 2 * n * (2 * c * c + c)
    return Stats(params, flops, BYTES * n * (2 * c + c + 2))


def stem_stats(node: ir.Stem, inp: ir.Input) -> Stats:
    """The conv and norm; the class token (C) and the position embedding (T·C) when there
    are (their sums are not counted as FLOPs); memory: input, conv output, and what it
    returns (the map, or the token row)."""
    cfg = node.config
    ph, pw, pd = cfg.patch
    d, h, w = ir.concrete(node.size_out, inp)
    n = d * h * w
    params = conv_params(cfg.c_in, cfg.c_out, ph * pw * pd) + norm_params(cfg.norm, cfg.c_out, h, w)
    tokens = n + cfg.class_token  # what the stem returns: the map's pixels (and the token)
    params += cfg.c_out * cfg.class_token
    if cfg.pos_embed != "none":
        params += cfg.c_out * (n if cfg.pos_embed == "learned_map" else tokens)
    flops = 2 * cfg.c_in * cfg.c_out * ph * pw * pd * n
    mem = BYTES * (cfg.c_in * prod(ir.concrete(node.size_in, inp)) + cfg.c_out * (n + tokens))
    return Stats(params, flops, mem)


def head_stats(node: ir.Head, inp: ir.Input) -> Stats:
    """The conv or the linear layer, and a classify head's norm (2C)."""
    cfg = node.config
    n = prod(ir.concrete(node.size_in, inp))
    params = conv_params(cfg.c_in, cfg.n, 1)
    if cfg.kind == "conv":
        up = 0 if cfg.factor == (1, 1, 1) else cfg.n * n * prod(cfg.factor)  # the upsampled map
        return Stats(params, 2 * cfg.c_in * cfg.n * n, BYTES * ((cfg.c_in + cfg.n) * n + up))
    seen = 1 if cfg.pool == "token" else n  # the pixels (or the one token) it reads
    normed = cfg.c_in * seen if cfg.norm != "none" else 0
    params += norm_params(cfg.norm, cfg.c_in, 1, 1)
    return Stats(
        params, 2 * cfg.c_in * cfg.n, BYTES * (cfg.c_in * seen + normed + cfg.c_in + cfg.n)
    )


def block_stats(node: ir.Block, inp: ir.Input, row: tuple[int, int, int] | None = None) -> Stats:
    """The cells at the block's map size, or at the class token's row `row`."""
    size = row or ir.concrete(node.size, inp)
    total = ZERO
    for cell in node.cells:
        total = total + Stats(
            cell_params(cell.config, size),
            cell_flops(cell.config, size),
            cell_memory(cell.config, size),
        )
    return total


def _resample_kind(cfg) -> str:
    return f"{cfg.direction} {cfg.method}" + (f" x{cfg.factor}" if cfg.direction == "up" else "")


def node_stats(node, inp: ir.Input, row: tuple[int, int, int] | None = None) -> NodeStats:
    """Shapes and costs of one module-level node; `row` the class token's token row (the
    size blocks run on, and the stem returns)."""
    if isinstance(node, ir.Block):
        kind, c_in, c_out = f"block {node.text}", node.c_in, node.c_out
        size_in = size_out = row or node.size
        stats = block_stats(node, inp, row)
    elif isinstance(node, ir.Resample):
        cfg = node.config
        kind, c_in, c_out = _resample_kind(cfg), cfg.channels[0], cfg.channels[-1]
        size_in, size_out = node.size_in, node.size_out
        stats = resample_stats(node, inp)
    elif isinstance(node, ir.Gate):
        kind, c_in, c_out = "gate", node.channels, node.channels
        size_in = size_out = node.size
        stats = gate_stats(node, inp)
    elif isinstance(node, ir.Stem):
        kind, c_in, c_out = "stem", node.config.c_in, node.config.c_out
        size_in, size_out = node.size_in, row or node.size_out
        stats = stem_stats(node, inp)
    elif isinstance(node, ir.OutputNorm):
        c, n = node.channels, prod(ir.concrete(node.size, inp))
        shape = (c, *node.size)
        return NodeStats(node.path, "norm channel_layer", shape, shape,
                         Stats(2 * c, 0, BYTES * c * n), node)  # fmt: skip
    elif isinstance(node, ir.Head):
        cfg = node.config
        out = (cfg.n, *head_size_out(node)) if cfg.kind == "conv" else (cfg.n,)
        shape_in = (cfg.c_in,) if cfg.pool == "token" else (cfg.c_in, *node.size_in)
        return NodeStats(node.path, f"head {cfg.kind}", shape_in, out, head_stats(node, inp), node)
    else:  # pragma: no cover
        raise TypeError(node)
    return NodeStats(node.path, kind, (c_in, *size_in), (c_out, *size_out), stats, node)


def infer(net: ir.Network) -> list[NodeStats]:
    """Per-node shapes and costs, in module order."""
    row = token_row(net)
    return [node_stats(n, net.input, row) for n in net.nodes()]


def totals(rows: list[NodeStats]) -> Stats:
    total = ZERO
    for r in rows:
        total = total + r.stats
    return total


def run(unit: Unit) -> Unit:
    """Pass: attach the per-node shapes and costs to the network (computed once)."""
    assert unit.network is not None
    net = unit.network
    return replace(unit, network=replace(net, stats=tuple(infer(net))))
