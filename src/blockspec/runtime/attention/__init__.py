"""Attention cores (one module per family) and the conv core of C2/C3 cells.

`build_core` picks the module from ``cfg.family``; every core maps ``[B, C_in, D, H, W]`` to
``[B, C_out, D, H, W]``.
"""

from __future__ import annotations

from torch import nn

from blockspec.errors import SpecValueError
from blockspec.runtime.attention.base import WindowAttention, attend, relative_position_index
from blockspec.runtime.attention.conv import ConvCore
from blockspec.runtime.attention.global_ import GlobalAttention, GlobalAttention3d
from blockspec.runtime.attention.local import LocalAttention, LocalAttention3d
from blockspec.runtime.attention.swin import ShiftedSwinAttention, SwinAttention
from blockspec.runtime.attention.temporal import TemporalAttention
from blockspec.runtime.attention.vit import ViTAttention, ViTAttention3d
from blockspec.runtime.config import CellConfig

__all__ = [
    "CORES",
    "ConvCore",
    "GlobalAttention",
    "GlobalAttention3d",
    "LocalAttention",
    "LocalAttention3d",
    "ShiftedSwinAttention",
    "SwinAttention",
    "TemporalAttention",
    "ViTAttention",
    "ViTAttention3d",
    "WindowAttention",
    "attend",
    "build_core",
    "relative_position_index",
]

#: family -> core module class
CORES: dict[str, type[nn.Module]] = {
    "L": LocalAttention,
    "G": GlobalAttention,
    "T": TemporalAttention,
    "L3": LocalAttention3d,
    "G3": GlobalAttention3d,
    "V2": ViTAttention,
    "V3": ViTAttention3d,
    "S3": SwinAttention,
    "Sh": ShiftedSwinAttention,
    "C2": ConvCore,
    "C3": ConvCore,
}


def build_core(cfg: CellConfig) -> nn.Module:
    """The core of a cell: the attention module of ``cfg.family``, or the conv core."""
    try:
        cls = CORES[cfg.family]
    except KeyError:
        raise SpecValueError(f"unknown cell family {cfg.family!r}") from None
    return cls(cfg)
