"""The optional stem: a patch embedding (SEMANTICS.md, "Stem").

``conv``: one 3D conv with bias, kernel = stride = the patch ``(pd, ph, pw)``, ``c_in -> c_out``;
then ``norm`` (any norm kind, built by `blockspec.runtime.norms.build_norm` over the stem's
output size) when the config names one. Keys: ``conv.weight``, ``conv.bias``, ``norm.*``.
"""

from __future__ import annotations

import torch
from torch import nn

from blockspec.runtime.config import StemConfig
from blockspec.runtime.layers import FrameConv3d
from blockspec.runtime.norms import build_norm

__all__ = ["Stem"]


class Stem(nn.Module):
    """Patch embedding ``[B, C_in, D, H, W] -> [B, C_s, D/pd, H/ph, W/pw]``."""

    def __init__(self, cfg: StemConfig) -> None:
        super().__init__()
        self.cfg = cfg
        ph, pw, pd = cfg.patch
        kernel = (pd, ph, pw)
        self.conv = FrameConv3d(cfg.c_in, cfg.c_out, kernel_size=kernel, stride=kernel, bias=True)
        self.norm = build_norm(cfg.norm, cfg.c_out, cfg.size) if cfg.norm is not None else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(x)
        return x if self.norm is None else self.norm(x)

    def extra_repr(self) -> str:
        c = self.cfg
        return f"{c.c_in} -> {c.c_out}, patch={list(c.patch)} (H, W, D), norm={c.norm or 'none'}"
