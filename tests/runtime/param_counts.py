"""Parameter counts written from SEMANTICS.md's formulas (not from the code), and a small
config builder for runtime cell tests."""

from __future__ import annotations

import math
from collections.abc import Iterator

import pytest
import torch

from blockspec.runtime.config import CellConfig

FAMILY = {"L1": "L", "L0": "L", "G1": "G", "G0": "G", "T1": "T", "T0": "T", "F1": "T", "F0": "T",
          "L3": "L3", "G3": "G3", "V2": "V2", "V3": "V3", "S3": "S3", "Sh": "Sh", "C2": "C2",
          "C3": "C3"}  # fmt: skip
ATTENTION_CODES = ["L1", "G1", "T1", "L3", "G3", "V2", "V3", "S3", "Sh"]
THREE_D = {"L3", "G3", "V3", "S3", "Sh", "C3"}


@pytest.fixture(autouse=True, scope="module")
def one_thread() -> Iterator[None]:
    """Tiny tensors: one intra-op thread (OpenMP on a busy 2-core machine is ~100x slower)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def cfg_for(code: str, **kw) -> CellConfig:
    """A tiny cell config (C 4 -> 8, map 4x8x8, window (4, 4, 2), patch (2, 2, 1), 2 heads)."""
    base = dict(
        code=code,
        family=FAMILY[code],
        has_mixer=not code.endswith("0"),
        c_in=4,
        c_out=8,
        size=(4, 8, 8),
        window=(4, 4, 2),
        patch=(2, 2, 1),
        heads=2,
        dropout=0.0,
    )
    base.update(kw)
    return CellConfig(**base)


def n_params(m: torch.nn.Module) -> int:
    """Number of parameter values of a module."""
    return sum(p.numel() for p in m.parameters())


# ---- closed forms, from SEMANTICS.md ---------------------------------------------------------
def conv3_n(i: int, o: int) -> int:
    return 9 * i * o + o


def conv333_n(i: int, o: int) -> int:
    return 27 * i * o + o


def lin_n(i: int, o: int) -> int:
    return i * o + o


def token_pixels(cfg: CellConfig) -> int:
    (wh, ww, wd), (ph, pw, pd) = cfg.window, cfg.patch
    return {"L": ph * pw, "G": ph * pw, "L3": ph * pw * pd, "G3": ph * pw * pd,
            "V2": wh * ww, "V3": wh * ww * wd, "S3": 1, "Sh": 1}[cfg.family]  # fmt: skip


def table_rows(cfg: CellConfig) -> int:
    (wh, ww, wd), (ph, pw, pd) = cfg.window, cfg.patch
    d, h, w = cfg.size
    grid = {
        "L": (wh // ph, ww // pw),
        "L3": (wh // ph, ww // pw, wd // pd),
        "S3": (wh, ww, wd),
        "Sh": (wh, ww, wd),
        "G": (h // wh, w // ww),
        "V2": (h // wh, w // ww),
        "G3": (h // wh, w // ww, d // wd),
        "V3": (h // wh, w // ww, d // wd),
    }[cfg.family]
    return math.prod(2 * g - 1 for g in grid)


def expected_attention_params(cfg: CellConfig) -> int:
    ci, co, n = cfg.c_in, cfg.c_out, cfg.heads
    if cfg.family == "T":
        qkvo = 3 * conv3_n(ci, co) + (conv3_n(co, co) if cfg.out_proj else 0)
        return qkvo + (n if cfg.cosine else 0)
    if cfg.attention == "lin":
        p = token_pixels(cfg)
        qkvo = 3 * lin_n(ci * p, co * p) + (lin_n(co * p, co * p) if cfg.out_proj else 0)
    else:
        conv = conv333_n if cfg.family in THREE_D else conv3_n
        qkvo = 3 * conv(ci, co) + (conv(co, co) if cfg.out_proj else 0)
    return qkvo + (n if cfg.cosine else 0) + (table_rows(cfg) * n if cfg.rel_pos_bias else 0)


NO_PARAM_NORMS = {"instance2d", "instance3d"}


def norm_params(kind: str, channels: int, size) -> int:
    """layer: 2·C·H·W; channel_layer, batch2d, batch3d: 2C; instance norms: 0."""
    if kind == "layer":
        return 2 * channels * size[1] * size[2]
    return 0 if kind in NO_PARAM_NORMS else 2 * channels


def activation_params(name: str) -> int:
    return 1 if name == "prelu" else 0


def expected_core_params(cfg: CellConfig) -> int:
    """The attention module, or for C2/C3 the conv core: conv, norm over C_out, activation."""
    if cfg.family in ("C2", "C3"):
        conv = conv333_n if cfg.family == "C3" else conv3_n
        return (
            conv(cfg.c_in, cfg.c_out)
            + norm_params(cfg.norm, cfg.c_out, cfg.size)
            + activation_params(cfg.activation)
        )
    return expected_attention_params(cfg)


def expected_cell_params(cfg: CellConfig) -> int:
    """P (when C_in != C_out) + norm1 + core [+ norm2 (sequential) + mixer]."""
    ci, co = cfg.c_in, cfg.c_out
    conv = conv333_n if cfg.family in THREE_D else conv3_n
    total = conv(ci, co) if ci != co else 0
    total += norm_params(cfg.norm, ci, cfg.size) + expected_core_params(cfg)
    if cfg.has_mixer:
        parallel = cfg.layout == "parallel"
        if not parallel:
            total += norm_params(cfg.norm, co, cfg.size)
        m_in = ci if parallel else co
        h = math.floor(cfg.mixer_ratio * co)
        if cfg.mixer == "lin" and cfg.family not in ("T", "C2", "C3"):
            p = token_pixels(cfg)
            total += lin_n(m_in * p, h * p) + lin_n(h * p, co * p)
        else:
            total += conv3_n(m_in, h) + conv3_n(h, co)
        total += activation_params(cfg.activation)
    return total
