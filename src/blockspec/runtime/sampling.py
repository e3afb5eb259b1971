"""Down- and upsampling between levels (SEMANTICS.md, "Down- and upsampling").

`Resample` is built from one `ResampleConfig`:

- ``direction = "down"``: a chain of single x1/2 steps ``step0``, ``step1``, ... (in H, W; also
  D with ``depth``); step i maps ``channels[i] -> channels[i + 1]`` and holds one ``conv``:
  ``interpolate`` = trilinear x1/2 (D factor 1 without depth, which is bilinear per frame) then
  a 1x1x1 conv with bias; ``stride`` = a 3x3 conv per frame (3x3x3 with depth) with stride 2,
  padding 1 and bias; ``merge`` = space-to-depth 2x2 (2x2x2) to 4C (8C) channels ordered
  ``(c, dh, dw[, dd])`` with c outermost, then (with ``norm = "channel_layer"``) ``norm``, an
  affine LayerNorm (eps 1e-5) over those 4C (8C) channels at every pixel, then a 1x1x1 conv
  without bias.
- ``direction = "up"``: one interpolation by ``factor`` in H, W (and D with ``depth``;
  ``linear`` = trilinear with ``align_corners=False``, or ``nearest``), then ``conv``, a 1x1x1
  conv ``channels[0] -> channels[-1]`` with bias.

State-dict keys: ``step{i}.conv.weight`` / ``step{i}.conv.bias`` (down; a merge step with a
norm also ``step{i}.norm.weight`` / ``step{i}.norm.bias``, before the conv) and
``conv.weight`` / ``conv.bias`` (up). All tensors are ``[B, C, D, H, W]``.
"""

from __future__ import annotations

from itertools import pairwise

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

from blockspec.errors import ShapeError
from blockspec.runtime.config import ResampleConfig
from blockspec.runtime.layers import FrameConv3d, conv3
from blockspec.runtime.norms import ChannelLayerNorm

__all__ = ["DownStep", "Resample", "space_to_depth", "upsample"]

DOWN_METHODS = ("interpolate", "stride", "merge")
DOWN_NORMS = (None, "channel_layer")  # the norm of a merge step (None: no norm)
UP_METHODS = ("linear", "nearest")
_AXES = ("D", "H", "W")


def space_to_depth(x: torch.Tensor, depth: bool = False) -> torch.Tensor:
    """Fold 2x2 (2x2x2 with ``depth``) neighbourhoods into channels, ordered (c, dh, dw[, dd]).

    ``[B, C, D, H, W] -> [B, 4C, D, H/2, W/2]`` (``[B, 8C, D/2, H/2, W/2]`` with depth); the
    channel index is ``((c * 2 + dh) * 2 + dw)`` (``* 2 + dd`` with depth): c outermost.
    """
    if depth:
        return rearrange(x, "b c (d dd) (h dh) (w dw) -> b (c dh dw dd) d h w", dd=2, dh=2, dw=2)
    return rearrange(x, "b c d (h dh) (w dw) -> b (c dh dw) d h w", dh=2, dw=2)


def _check_halvable(x: torch.Tensor, depth: bool) -> None:
    """Raise `ShapeError` when a map cannot be halved exactly (never crop silently)."""
    axes = (0, 1, 2) if depth else (1, 2)
    for i in axes:
        n = x.shape[2 + i]
        if n % 2 != 0 or n < 2:
            raise ShapeError(
                f"cannot halve {_AXES[i]} = {n}: a downsampling step needs an even size "
                f"of at least 2 on {_AXES[i]}"
            )


class DownStep(nn.Module):
    """One x1/2 step ``c_in -> c_out`` by ``method``; its parameters are in ``conv`` (and, for
    a merge step with ``norm = "channel_layer"``, in ``norm``, built first)."""

    def __init__(
        self, method: str, c_in: int, c_out: int, depth: bool = False, norm: str | None = None
    ) -> None:
        super().__init__()
        if method not in DOWN_METHODS:
            raise ValueError(
                f"unknown downsample method {method!r}; expected one of {DOWN_METHODS}"
            )
        if norm not in DOWN_NORMS:
            raise ValueError(f"unknown downsample norm {norm!r}; expected one of {DOWN_NORMS}")
        if norm is not None and method != "merge":
            raise ValueError(f"a downsample norm needs the merge method, not {method!r}")
        self.method = method
        self.c_in = c_in
        self.c_out = c_out
        self.depth = depth
        self.norm: nn.Module | None = None
        if method == "interpolate":
            self.conv = nn.Conv3d(c_in, c_out, kernel_size=1, bias=True)
        elif method == "stride":
            if depth:  # conv333, stride 2
                self.conv = FrameConv3d(c_in, c_out, kernel_size=3, stride=2, padding=1, bias=True)
            else:  # conv3 per frame (a Conv2d weight, as everywhere in the runtime), stride 2
                self.conv = conv3(c_in, c_out, stride=(2, 2))
        else:  # merge
            folded = c_in * (8 if depth else 4)
            if norm == "channel_layer":
                self.norm = ChannelLayerNorm(folded)
            self.conv = nn.Conv3d(folded, c_out, kernel_size=1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_halvable(x, self.depth)
        if self.method == "interpolate":
            scale = (0.5, 0.5, 0.5) if self.depth else (1.0, 0.5, 0.5)
            x = F.interpolate(x, scale_factor=scale, mode="trilinear", align_corners=False)
        elif self.method == "merge":
            x = space_to_depth(x, self.depth)
            if self.norm is not None:
                x = self.norm(x)
        return self.conv(x)

    def extra_repr(self) -> str:
        axes = "D, H, W" if self.depth else "H, W"
        return f"{self.method}, {self.c_in} -> {self.c_out}, x1/2 in {axes}"


class Resample(nn.Module):
    """Downsampling (a chain of `DownStep`s) or one upsampling, as `ResampleConfig` says."""

    def __init__(self, cfg: ResampleConfig) -> None:
        super().__init__()
        self.cfg = cfg
        if len(cfg.channels) < 2:
            raise ValueError(f"a resampler needs at least two channel counts, got {cfg.channels}")
        if cfg.direction == "down":
            for i, (c_in, c_out) in enumerate(pairwise(cfg.channels)):
                step = DownStep(cfg.method, c_in, c_out, cfg.depth, cfg.norm)
                self.add_module(f"step{i}", step)
        elif cfg.direction == "up":
            if cfg.method not in UP_METHODS:
                raise ValueError(
                    f"unknown upsample method {cfg.method!r}; expected one of {UP_METHODS}"
                )
            if cfg.factor < 1:
                raise ValueError(f"upsampling factor must be >= 1, got {cfg.factor}")
            self.conv = nn.Conv3d(cfg.channels[0], cfg.channels[-1], kernel_size=1, bias=True)
        else:
            raise ValueError(f"unknown resampling direction {cfg.direction!r}")

    @property
    def steps(self) -> int:
        """How many x1/2 steps (0 for an upsampler)."""
        return len(self.cfg.channels) - 1 if self.cfg.direction == "down" else 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.cfg.direction == "down":
            for i in range(self.steps):
                x = self._modules[f"step{i}"](x)
            return x
        return self.conv(upsample(x, self.cfg.factor, self.cfg.method, self.cfg.depth))

    def extra_repr(self) -> str:
        c = self.cfg
        chans = " -> ".join(str(n) for n in c.channels)
        if c.direction == "down":
            norm = "" if c.norm is None else f", norm={c.norm}"
            return f"down x1/{2**self.steps} ({c.method}), channels {chans}, depth={c.depth}{norm}"
        return f"up x{c.factor} ({c.method}), channels {chans}, depth={c.depth}"


def upsample(x: torch.Tensor, factor: int, method: str, depth: bool = False) -> torch.Tensor:
    """Parameter-free interpolation by ``factor`` in H, W (and D with ``depth``).

    ``method`` is ``"linear"`` (trilinear, ``align_corners=False``; bilinear per frame when D
    is not scaled) or ``"nearest"``.
    """
    scale = (float(factor) if depth else 1.0, float(factor), float(factor))
    if method == "linear":
        return F.interpolate(x, scale_factor=scale, mode="trilinear", align_corners=False)
    if method == "nearest":
        return F.interpolate(x, scale_factor=scale, mode="nearest")
    raise ValueError(f"unknown upsample method {method!r}; expected one of {UP_METHODS}")
