"""Small shared operations: per-frame and 3D convolutions, drop-path, size checks.

Every op takes and returns ``[B, C, D, H, W]``.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from blockspec.errors import ShapeError
from blockspec.runtime.config import FAMILIES_3D, CellConfig

__all__ = [
    "Conv3",
    "DropPath",
    "conv3",
    "conv333",
    "family_conv",
    "require_multiple",
    "token_shape",
]


class Conv3(nn.Conv2d):
    """`conv3`: a 3x3 convolution applied to every frame, zero padding 1, with bias.

    The weight is a plain ``Conv2d`` weight ``[C_out, C_in, 3, 3]``; frames are folded into the
    batch (much faster on CPU than a ``(1, 3, 3)`` Conv3d). ``stride`` acts on (H, W).
    """

    def __init__(self, c_in: int, c_out: int, stride: tuple[int, int] = (1, 1)) -> None:
        super().__init__(c_in, c_out, kernel_size=3, stride=stride, padding=1, bias=True)

    def forward(self, x: Tensor) -> Tensor:  # [B, C, D, H, W] -> [B, C_out, D, H', W']
        b, c, d, h, w = x.shape
        y = super().forward(x.transpose(1, 2).reshape(b * d, c, h, w))
        return y.reshape(b, d, y.shape[1], y.shape[2], y.shape[3]).transpose(1, 2)


def conv3(c_in: int, c_out: int, stride: tuple[int, int] = (1, 1)) -> Conv3:
    """Per-frame 3x3 conv with bias: 9·c_in·c_out + c_out parameters."""
    return Conv3(c_in, c_out, stride)


def conv333(c_in: int, c_out: int) -> nn.Conv3d:
    """3x3x3 conv, zero padding 1, with bias: 27·c_in·c_out + c_out parameters."""
    return nn.Conv3d(c_in, c_out, kernel_size=3, padding=1, bias=True)


def family_conv(family: str, c_in: int, c_out: int) -> nn.Module:
    """The family's convolution (Q/K/V, output projection, P): conv333 for 3D families."""
    return conv333(c_in, c_out) if family in FAMILIES_3D else conv3(c_in, c_out)


def token_shape(cfg: CellConfig) -> tuple[int, int, int]:
    """Pixels of one token as (H, W, D): what a `lin` (Q/K/V, out, mixer) sees per token.

    L, G: the patch of one frame; L3, G3: the 3D patch; V2: a window of one frame; V3: a 3D
    window; S3, Sh: one voxel. (T, C2, C3 have no tokens for a `lin`.)
    """
    ph, pw, pd = cfg.patch
    wh, ww, wd = cfg.window
    fam = cfg.family
    if fam in ("L", "G"):
        return (ph, pw, 1)
    if fam in ("L3", "G3"):
        return (ph, pw, pd)
    if fam == "V2":
        return (wh, ww, 1)
    if fam == "V3":
        return (wh, ww, wd)
    return (1, 1, 1)


def require_multiple(where: str, axis: str, size: int, unit: int, unit_name: str) -> None:
    """Raise `ShapeError` unless ``size`` is a multiple of ``unit`` (plain int arithmetic)."""
    if size % unit != 0:
        raise ShapeError(
            f"{where}: the map's {axis} {size} is not a multiple of the {unit_name} {unit}",
            hint=f"use a {axis} that is a multiple of {unit}",
        )


class DropPath(nn.Module):
    """Stochastic depth: drops the whole branch per sample with probability ``p`` and scales
    the kept samples by 1/(1-p); identity in eval mode."""

    def __init__(self, p: float) -> None:
        super().__init__()
        self.p = float(p)

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.p == 0.0:
            return x
        keep = 1.0 - self.p
        shape = (x.shape[0],) + (1,) * (x.dim() - 1)
        mask = torch.empty(shape, dtype=x.dtype, device=x.device).bernoulli_(keep)
        return x * mask / keep

    def extra_repr(self) -> str:
        return f"p={self.p}"
