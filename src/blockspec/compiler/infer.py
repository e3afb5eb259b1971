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

from ..language import FAMILIES
from ..language.schema import CellConfig
from . import ir
from .outputs import output_shapes
from .state import Unit

__all__ = [
    "Stats", "NodeStats", "infer", "cell_params", "cell_flops", "token_pixels", "output_shapes",
    "run",
]  # fmt: skip

BYTES = 4  # float32


@dataclass(frozen=True)
class Stats:
    params: int
    flops: int
    memory: int  # bytes

    def __add__(self, other: Stats) -> Stats:
        return Stats(
            self.params + other.params, self.flops + other.flops, self.memory + other.memory
        )


ZERO = Stats(0, 0, 0)


@dataclass(frozen=True)
class NodeStats:
    """One row of the summary: a module-level node with its shapes and costs."""

    path: str
    kind: str
    in_shape: tuple  # (C, D, H, W), symbolic axes as ir.Sym
    out_shape: tuple
    stats: Stats
    node: object  # the IR node


# ----------------------------------------------------------------------------- primitives
def _conv(ci: int, co: int, k: int, bias: bool = True) -> int:
    return ci * co * k + (co if bias else 0)


def _lin(a: int, b: int) -> int:
    return a * b + b


def _kernel(family: str) -> int:
    return FAMILIES[family].kernel


def norm_params(kind: str | None, c: int, h: int, w: int) -> int:
    if kind == "layer":
        return 2 * c * h * w
    if kind in ("channel_layer", "batch2d", "batch3d"):
        return 2 * c
    return 0


def act_params(name: str) -> int:
    return 1 if name == "prelu" else 0


def token_pixels(cfg: CellConfig) -> int:
    """Pixels per token: the patch (L, G, L3, G3), the window (V2, V3), 1 (S3, Sh)."""
    return FAMILIES[cfg.family].token_pixels(cfg.window, cfg.patch)


def _grid(cfg: CellConfig, size: tuple[int, int, int]) -> tuple[int, ...]:
    """Tokens per group along each axis (the position-table grid g)."""
    return FAMILIES[cfg.family].grid(cfg.window, cfg.patch, size)


def _mixer_hidden(cfg: CellConfig) -> int:
    return int(cfg.mixer_ratio * cfg.c_out)


def _uses_lin(cfg: CellConfig, what: str) -> bool:
    if not FAMILIES[cfg.family].lin_ok:
        return False
    return (cfg.attention if what == "attention" else cfg.mixer) == "lin"


# ----------------------------------------------------------------------------- cells
def core_params(cfg: CellConfig, size: tuple[int, int, int]) -> int:
    ci, co, n, k = cfg.c_in, cfg.c_out, cfg.heads, _kernel(cfg.family)
    if not FAMILIES[cfg.family].attention:
        return (
            _conv(ci, co, k)
            + norm_params(cfg.norm, co, size[1], size[2])
            + act_params(cfg.activation)
        )
    p = token_pixels(cfg)
    total = 0
    if _uses_lin(cfg, "attention"):
        total += 3 * _lin(ci * p, co * p)
        if cfg.out_proj:
            total += _lin(co * p, co * p)
    else:
        total += 3 * _conv(ci, co, k)
        if cfg.out_proj:
            total += _conv(co, co, k)
    if cfg.cosine:
        total += n
    if cfg.rel_pos_bias and not FAMILIES[cfg.family].temporal:
        total += prod(2 * g - 1 for g in _grid(cfg, size)) * n
    return total


def mixer_params(cfg: CellConfig) -> int:
    if not cfg.has_mixer:
        return 0
    h = _mixer_hidden(cfg)
    c_from = cfg.c_in if cfg.layout == "parallel" else cfg.c_out
    if _uses_lin(cfg, "mixer"):
        p = token_pixels(cfg)
        return _lin(c_from * p, h * p) + act_params(cfg.activation) + _lin(h * p, cfg.c_out * p)
    return _conv(c_from, h, 9) + act_params(cfg.activation) + _conv(h, cfg.c_out, 9)


def cell_params(cfg: CellConfig, size: tuple[int, int, int]) -> int:
    """Parameters of one cell at map `size` (D, H, W), from SEMANTICS.md."""
    _, h, w = size
    total = core_params(cfg, size) + mixer_params(cfg)
    if cfg.c_in != cfg.c_out:
        total += _conv(cfg.c_in, cfg.c_out, _kernel(cfg.family))
    total += norm_params(cfg.norm, cfg.c_in, h, w)
    if cfg.has_mixer and cfg.layout == "sequential":
        total += norm_params(cfg.norm, cfg.c_out, h, w)
    return total


def _group_size(cfg: CellConfig, size: tuple[int, int, int]) -> int:
    return FAMILIES[cfg.family].group_size(cfg.window, cfg.patch, size)


def cell_flops(cfg: CellConfig, size: tuple[int, int, int]) -> int:
    """FLOPs of one cell for one sample (see the module docstring for what counts)."""
    d, h, w = size
    n_pix = d * h * w
    ci, co, k = cfg.c_in, cfg.c_out, _kernel(cfg.family)
    fl = 0
    if ci != co:
        fl += 2 * ci * co * k * n_pix
    fam = FAMILIES[cfg.family]
    if not fam.attention:
        fl += 2 * ci * co * k * n_pix
    elif fam.temporal:
        sh, sw = cfg.temporal_stride
        small = d * (h // sh) * (w // sw)
        fl += 2 * 2 * ci * co * 9 * small + 2 * ci * co * 9 * n_pix  # q, k strided; v full
        if cfg.out_proj:
            fl += 2 * co * co * 9 * n_pix
        fl += 2 * d * co * small + 2 * d * co * n_pix  # q.k over frames, attention.v
    else:
        p = token_pixels(cfg)
        if _uses_lin(cfg, "attention"):
            tokens = n_pix // p
            fl += 3 * 2 * (ci * p) * (co * p) * tokens
            if cfg.out_proj:
                fl += 2 * (co * p) * (co * p) * tokens
        else:
            fl += 3 * 2 * ci * co * k * n_pix
            if cfg.out_proj:
                fl += 2 * co * co * k * n_pix
        fl += 4 * n_pix * _group_size(cfg, size) * co
    if cfg.has_mixer:
        hdim = _mixer_hidden(cfg)
        c_from = ci if cfg.layout == "parallel" else co
        if _uses_lin(cfg, "mixer"):
            p = token_pixels(cfg)
            fl += 2 * (c_from * p * hdim * p + hdim * p * co * p) * (n_pix // p)
        else:
            fl += 2 * 9 * (c_from * hdim + hdim * co) * n_pix
    return fl


def cell_memory(cfg: CellConfig, size: tuple[int, int, int]) -> int:
    """Estimated bytes kept for backward by one cell (batch 1, float32)."""
    d, h, w = size
    n_pix = d * h * w
    ci, co = cfg.c_in, cfg.c_out
    elems = 2 * ci * n_pix  # input and normalised input
    fam = FAMILIES[cfg.family]
    if not fam.attention:
        elems += 3 * co * n_pix  # conv out, norm out, activation out
    else:
        elems += 5 * co * n_pix  # q, k, v, attention output, projection
        if fam.temporal:
            elems += cfg.heads * d * d
        else:
            elems += cfg.heads * (n_pix // token_pixels(cfg)) * _group_size(cfg, size)
    if ci != co:
        elems += co * n_pix
    if cfg.has_mixer:
        elems += co * n_pix + 2 * _mixer_hidden(cfg) * n_pix + co * n_pix
    return BYTES * elems


# ----------------------------------------------------------------------------- other nodes
def resample_stats(node: ir.Resample, inp: ir.Input) -> Stats:
    cfg = node.config
    size_in = ir.concrete(node.size_in, inp)
    size_out = ir.concrete(node.size_out, inp)
    if cfg.direction == "up":
        ci, co = cfg.channels[0], cfg.channels[-1]
        n = prod(size_out)
        return Stats(_conv(ci, co, 1), 2 * ci * co * n, BYTES * (ci * prod(size_in) + 2 * ci * n))
    params = flops = mem = 0
    d, h, w = size_in
    for ci, co in zip(cfg.channels[:-1], cfg.channels[1:]):
        d2 = d // 2 if cfg.depth else d
        h2, w2 = h // 2, w // 2
        n_out = d2 * h2 * w2
        if cfg.method == "interpolate":
            params += _conv(ci, co, 1)
            flops += 2 * ci * co * n_out
            mem += BYTES * (ci * d * h * w + ci * n_out)
        elif cfg.method == "stride":
            kk = 27 if cfg.depth else 9
            params += _conv(ci, co, kk)
            flops += 2 * ci * co * kk * n_out
            mem += BYTES * ci * d * h * w
        else:  # merge
            f = 8 if cfg.depth else 4
            params += _conv(f * ci, co, 1, bias=False)
            flops += 2 * f * ci * co * n_out
            mem += BYTES * ci * d * h * w
        d, h, w = d2, h2, w2
    return Stats(params, flops, mem)


def gate_stats(node: ir.Gate, inp: ir.Input) -> Stats:
    c = node.channels
    n = prod(ir.concrete(node.size, inp))
    params = 2 * _conv(c, c, 1) + _conv(c, 1, 1)
    flops = 2 * n * (2 * c * c + c)
    return Stats(params, flops, BYTES * n * (2 * c + c + 2))


def stem_stats(node: ir.Stem, inp: ir.Input) -> Stats:
    cfg = node.config
    ph, pw, pd = cfg.patch
    d, h, w = ir.concrete(node.size_out, inp)
    params = _conv(cfg.c_in, cfg.c_out, ph * pw * pd) + norm_params(cfg.norm, cfg.c_out, h, w)
    flops = 2 * cfg.c_in * cfg.c_out * ph * pw * pd * d * h * w
    mem = BYTES * (cfg.c_in * prod(ir.concrete(node.size_in, inp)) + 2 * cfg.c_out * d * h * w)
    return Stats(params, flops, mem)


def head_stats(node: ir.Head, inp: ir.Input) -> Stats:
    cfg = node.config
    n = prod(ir.concrete(node.size_in, inp))
    params = _conv(cfg.c_in, cfg.n, 1)
    if cfg.kind == "conv":
        return Stats(params, 2 * cfg.c_in * cfg.n * n, BYTES * (cfg.c_in + cfg.n) * n)
    return Stats(params, 2 * cfg.c_in * cfg.n, BYTES * (cfg.c_in * n + cfg.c_in + cfg.n))


def block_stats(node: ir.Block, inp: ir.Input) -> Stats:
    size = ir.concrete(node.size, inp)
    total = ZERO
    for cell in node.cells:
        total = total + Stats(
            cell_params(cell.config, size),
            cell_flops(cell.config, size),
            cell_memory(cell.config, size),
        )
    return total


def _shape(c: int, size) -> tuple:
    return (c, *size)


def node_stats(node, inp: ir.Input) -> NodeStats:
    """Shapes and costs of one module-level node."""
    if isinstance(node, ir.Block):
        return NodeStats(
            node.path,
            f"block {node.text}",
            _shape(node.c_in, node.size),
            _shape(node.c_out, node.size),
            block_stats(node, inp),
            node,
        )
    if isinstance(node, ir.Resample):
        cfg = node.config
        kind = f"{cfg.direction} {cfg.method}" + (
            f" x{cfg.factor}" if cfg.direction == "up" else ""
        )
        return NodeStats(
            node.path,
            kind,
            _shape(cfg.channels[0], node.size_in),
            _shape(cfg.channels[-1], node.size_out),
            resample_stats(node, inp),
            node,
        )
    if isinstance(node, ir.Gate):
        sh = _shape(node.channels, node.size)
        return NodeStats(node.path, "gate", sh, sh, gate_stats(node, inp), node)
    if isinstance(node, ir.Stem):
        cfg = node.config
        return NodeStats(
            node.path,
            "stem",
            _shape(cfg.c_in, node.size_in),
            _shape(cfg.c_out, node.size_out),
            stem_stats(node, inp),
            node,
        )
    if isinstance(node, ir.Head):
        cfg = node.config
        out = _shape(cfg.n, node.size_in) if cfg.kind == "conv" else (cfg.n,)
        return NodeStats(
            node.path,
            f"head {cfg.kind}",
            _shape(cfg.c_in, node.size_in),
            out,
            head_stats(node, inp),
            node,
        )
    raise TypeError(node)  # pragma: no cover


def infer(net: ir.Network) -> list[NodeStats]:
    """Per-node shapes and costs, in module order."""
    return [node_stats(n, net.input) for n in net.nodes()]


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
