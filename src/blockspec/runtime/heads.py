"""Heads (SEMANTICS.md, "Heads").

``kind = "conv"``: ``conv``, a 1x1x1 conv with bias ``c_in -> n``; the output keeps the map:
``[B, n, D, H, W]``. ``kind = "classify"``: mean over D, H, W, then ``fc``, a linear layer
``c_in -> n``: ``[B, n]``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from blockspec.runtime.config import HeadConfig

__all__ = ["Head"]

HEAD_KINDS = ("conv", "classify")


class Head(nn.Module):
    """A conv head (per-pixel 1x1x1 conv) or a classification head (pool + linear)."""

    def __init__(self, cfg: HeadConfig) -> None:
        super().__init__()
        if cfg.kind not in HEAD_KINDS:
            raise ValueError(f"unknown head kind {cfg.kind!r}; expected one of {HEAD_KINDS}")
        self.cfg = cfg
        if cfg.kind == "conv":
            self.conv = nn.Conv3d(cfg.c_in, cfg.n, kernel_size=1, bias=True)
        else:
            self.fc = nn.Linear(cfg.c_in, cfg.n, bias=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.cfg.kind == "conv":
            y = self.conv(x)
            if self.cfg.factor != (1, 1, 1):  # back to the input's size (after a stem)
                y = F.interpolate(y, scale_factor=self.cfg.factor, mode="trilinear")
            return y
        return self.fc(x.mean(dim=(2, 3, 4)))

    def extra_repr(self) -> str:
        c = self.cfg
        what = "out_channels" if c.kind == "conv" else "classes"
        up = f", upsample={c.factor}" if c.factor != (1, 1, 1) else ""
        return f"{c.kind}, {c.c_in} -> {what}={c.n}{up}"
