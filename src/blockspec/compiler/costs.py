"""What one cell costs: parameters, FLOPs and activation memory, from SEMANTICS.md's
definitions (never from the runtime's modules, so a test can compare the two), as a whole and
per submodule (`cell_parts`: proj, norm1, attn or core, norm2, mixer, the runtime's names).

What is counted is said in `infer`'s docstring.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from math import prod

from ..language import FAMILIES
from ..language.schema import CellConfig

__all__ = [
    "BYTES", "Stats", "ZERO", "cell_params", "cell_flops", "cell_memory", "cell_parts",
    "cell_stats", "token_pixels", "core_params", "mixer_params", "norm_params", "act_params",
    "conv_params",
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


# ----------------------------------------------------------------------------- primitives
def conv_params(ci: int, co: int, k: int, bias: bool = True) -> int:
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
            conv_params(ci, co, k)
            + norm_params(cfg.norm, co, size[1], size[2])
            + act_params(cfg.activation)
        )
    p = token_pixels(cfg)
    total = 0
    if _uses_lin(cfg, "attention"):
        total += 3 * ((ci * p) * (co * p) + (co * p if cfg.qkv_bias else 0))
        if cfg.out_proj:
            total += _lin(co * p, co * p)
    else:  # T cells too: q, k, v are conv3 (strided q, k have the same parameters)
        total += 3 * conv_params(ci, co, k, bias=cfg.qkv_bias)
        if cfg.out_proj:
            total += conv_params(co, co, k)
    if cfg.cosine:
        total += n
    if cfg.rel_pos_bias and not FAMILIES[cfg.family].temporal:
        total += prod(2 * g - 1 for g in (cfg.table_grid or _grid(cfg, size))) * n
    return total


def mixer_params(cfg: CellConfig) -> int:
    if not cfg.has_mixer:
        return 0
    h = _mixer_hidden(cfg)
    c_from = cfg.c_in if cfg.layout == "parallel" else cfg.c_out
    if _uses_lin(cfg, "mixer"):
        p = token_pixels(cfg)
        return _lin(c_from * p, h * p) + act_params(cfg.activation) + _lin(h * p, cfg.c_out * p)
    return conv_params(c_from, h, 9) + act_params(cfg.activation) + conv_params(h, cfg.c_out, 9)


def _group_size(cfg: CellConfig, size: tuple[int, int, int]) -> int:
    return FAMILIES[cfg.family].group_size(cfg.window, cfg.patch, size)


def _core_flops(cfg: CellConfig, size: tuple[int, int, int]) -> int:
    d, h, w = size
    n_pix = d * h * w
    ci, co, k = cfg.c_in, cfg.c_out, _kernel(cfg.family)
    fam = FAMILIES[cfg.family]
    if not fam.attention:
        return 2 * ci * co * k * n_pix
    fl = 0
    if fam.temporal:
        sh, sw = cfg.temporal_stride
        small = d * (h // sh) * (w // sw)
        fl += 2 * 2 * ci * co * 9 * small + 2 * ci * co * 9 * n_pix  # q, k strided; v full
        if cfg.out_proj:
            fl += 2 * co * co * 9 * n_pix
        return fl + 2 * d * co * small + 2 * d * co * n_pix  # q.k over frames, attention.v
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
    return fl + 4 * n_pix * _group_size(cfg, size) * co


def _mixer_flops(cfg: CellConfig, n_pix: int) -> int:
    hdim = _mixer_hidden(cfg)
    c_from = cfg.c_in if cfg.layout == "parallel" else cfg.c_out
    if _uses_lin(cfg, "mixer"):
        p = token_pixels(cfg)
        return 2 * (c_from * p * hdim * p + hdim * p * cfg.c_out * p) * (n_pix // p)
    return 2 * 9 * (c_from * hdim + hdim * cfg.c_out) * n_pix


def _core_memory(cfg: CellConfig, size: tuple[int, int, int]) -> int:
    """Elements the core keeps: its outputs, and the attention probabilities."""
    d, h, w = size
    n_pix = d * h * w
    fam = FAMILIES[cfg.family]
    if not fam.attention:
        return 3 * cfg.c_out * n_pix  # conv out, norm out, activation out
    elems = 5 * cfg.c_out * n_pix  # q, k, v, attention output, projection
    if fam.temporal:
        return elems + cfg.heads * d * d
    return elems + cfg.heads * (n_pix // token_pixels(cfg)) * _group_size(cfg, size)


def _padded(cfg: CellConfig, size: tuple[int, int, int]) -> tuple[int, int, int]:
    """The map the core works on: `size` (D, H, W), with ``window_padding`` rounded up to a
    multiple of the window on the axes the family partitions."""
    if not cfg.window_padding:
        return size
    wh, ww, wd = cfg.window
    up = lambda n, k: -(-n // k) * k  # noqa: E731
    d = up(size[0], wd) if FAMILIES[cfg.family].three_d else size[0]
    return (d, up(size[1], wh), up(size[2], ww))


@lru_cache(maxsize=4096)
def cell_parts(cfg: CellConfig, size: tuple[int, int, int]) -> tuple[tuple[str, str, Stats], ...]:
    """(name, kind, stats) of each submodule of one cell at map `size` (D, H, W), in the
    runtime's build order: proj, norm1, attn or core, norm2, mixer (those that exist).

    Memory (float32 elements kept for backward): the input and its normalised copy count
    for norm1, the mixer's normalised input and hidden maps for the mixer.
    """
    d, h, w = size
    n_pix = d * h * w
    ci, co, k = cfg.c_in, cfg.c_out, _kernel(cfg.family)
    fam = FAMILIES[cfg.family]
    parts: list[tuple[str, str, Stats]] = []
    if ci != co:
        parts.append(
            ("proj", f"conv {ci}->{co}",
             Stats(conv_params(ci, co, k), 2 * ci * co * k * n_pix, BYTES * co * n_pix))
        )  # fmt: skip
    parts.append(
        ("norm1", f"norm {cfg.norm}",
         Stats(norm_params(cfg.norm, ci, h, w), 0, BYTES * 2 * ci * n_pix))
    )  # fmt: skip
    core = "attn" if fam.attention else "core"
    kind = f"attention {cfg.family}" if fam.attention else f"conv {cfg.family}"
    at = _padded(cfg, size)  # window_padding: the core runs on the padded map
    parts.append(
        (core, kind, Stats(core_params(cfg, at), _core_flops(cfg, at),
                           BYTES * _core_memory(cfg, at)))
    )  # fmt: skip
    if cfg.has_mixer:
        if cfg.layout == "sequential":
            parts.append(
                ("norm2", f"norm {cfg.norm}", Stats(norm_params(cfg.norm, co, h, w), 0, 0))
            )
        hid = _mixer_hidden(cfg)
        mem = BYTES * (co * n_pix + 2 * hid * n_pix + co * n_pix)
        parts.append(("mixer", f"mixer {cfg.mixer}",
                      Stats(mixer_params(cfg), _mixer_flops(cfg, n_pix), mem)))  # fmt: skip
    return tuple(parts)  # cached: a network repeats the same few cells


@lru_cache(maxsize=4096)
def cell_stats(cfg: CellConfig, size: tuple[int, int, int]) -> Stats:
    """Parameters, FLOPs and memory of one cell: the sum of its `cell_parts`."""
    total = ZERO
    for _, _, st in cell_parts(cfg, size):
        total = total + st
    return total


def cell_params(cfg: CellConfig, size: tuple[int, int, int]) -> int:
    """Parameters of one cell at map `size` (D, H, W), from SEMANTICS.md."""
    return cell_stats(cfg, size).params


def cell_flops(cfg: CellConfig, size: tuple[int, int, int]) -> int:
    """FLOPs of one cell for one sample (see `infer`'s docstring for what counts)."""
    return cell_stats(cfg, size).flops


def cell_memory(cfg: CellConfig, size: tuple[int, int, int]) -> int:
    """Estimated bytes kept for backward by one cell (batch 1, float32)."""
    return cell_stats(cfg, size).memory
