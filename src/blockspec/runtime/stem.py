"""The optional stem: a patch embedding (SEMANTICS.md, "Stem").

``conv``: one 3D conv with bias, kernel = stride = the patch ``(pd, ph, pw)``, ``c_in -> c_out``;
then ``norm`` (any norm kind, built by `blockspec.runtime.norms.build_norm` over the stem's
output size, its eps ``norm_eps`` when given) when the config names one.

With ``class_token``, the map ``[B, C, D, H, W]`` becomes the token row
``[B, C, 1, 1, 1 + D·H·W]``: the learned ``class_token`` ``[C]`` first, then the map's pixels
in (D, H, W) row-major order (SEMANTICS.md, "Class token"). ``pos_embed`` ``[T, C]`` is added
after that: ``learned`` has one row per token of what the stem returns (the class token's
first), ``learned_map`` one per pixel of the map, added before the class token joins.
Keys, in creation order: ``conv.weight``, ``conv.bias``, ``norm.*``, ``class_token``,
``pos_embed``.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from blockspec.errors import ShapeError
from blockspec.runtime.config import StemConfig
from blockspec.runtime.layers import FrameConv3d
from blockspec.runtime.norms import build_norm

__all__ = ["Stem"]


class Stem(nn.Module):
    """Patch embedding ``[B, C_in, D, H, W] -> [B, C_s, D/pd, H/ph, W/pw]`` (or the token row
    ``[B, C_s, 1, 1, 1 + N]`` with a class token)."""

    def __init__(self, cfg: StemConfig) -> None:
        super().__init__()
        self.cfg = cfg
        ph, pw, pd = cfg.patch
        kernel = (pd, ph, pw)
        self.conv = FrameConv3d(cfg.c_in, cfg.c_out, kernel_size=kernel, stride=kernel, bias=True)
        self.norm = (
            build_norm(cfg.norm, cfg.c_out, cfg.size, cfg.norm_eps)
            if cfg.norm is not None
            else None
        )
        self.class_token: nn.Parameter | None = None
        if cfg.class_token:
            self.class_token = nn.Parameter(torch.empty(cfg.c_out))
            nn.init.normal_(self.class_token, std=1e-6)
        self.pos_embed: nn.Parameter | None = None
        if cfg.pos_embed != "none":
            rows = self.map_pixels() + (cfg.class_token and cfg.pos_embed == "learned")
            self.pos_embed = nn.Parameter(torch.empty(rows, cfg.c_out))
            nn.init.trunc_normal_(self.pos_embed, std=0.02)

    def map_pixels(self) -> int:
        """D·H·W of the stem's output map (static: the compiler refuses `?` here)."""
        if any(a is None for a in self.cfg.size):
            raise ShapeError(
                "a position embedding or class token needs the stem's static output size",
                hint="give static D, H and W in input { }",
            )
        return math.prod(self.cfg.size)  # type: ignore[arg-type]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(x)
        if self.norm is not None:
            x = self.norm(x)
        pos = self.pos_embed
        if pos is not None and (self.class_token is None or self.cfg.pos_embed == "learned_map"):
            x = x + pos.t().reshape(x.shape[1:]).to(x.dtype)  # [C, D, H, W], broadcast over B
            pos = None
        if self.class_token is None:
            return x
        b, c = x.shape[:2]
        token = self.class_token.to(x.dtype).reshape(1, c, 1).expand(b, c, 1)
        row = torch.cat([token, x.flatten(2)], dim=2)  # [B, C, 1 + N]
        if pos is not None:
            row = row + pos.t().to(x.dtype)
        return row.reshape(b, c, 1, 1, row.shape[2])

    def split(self, row: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """A token row ``[B, C, 1, 1, 1 + N]`` -> the map ``[B, C, D, H, W]`` and the class
        token ``[B, C]``."""
        b, c = row.shape[:2]
        d, h, w = self.cfg.size
        return row[:, :, 0, 0, 1:].reshape(b, c, d, h, w), row[:, :, 0, 0, 0]  # type: ignore[arg-type]

    def extra_repr(self) -> str:
        c = self.cfg
        text = f"{c.c_in} -> {c.c_out}, patch={list(c.patch)} (H, W, D), norm={c.norm or 'none'}"
        if c.norm_eps is not None:
            text += f", norm_eps={c.norm_eps:g}"
        if c.class_token:
            text += ", class_token=True"
        if c.pos_embed != "none":
            text += f", pos_embed={c.pos_embed}"
        return text
