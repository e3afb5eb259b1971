"""Heads (SEMANTICS.md, "Heads").

``kind = "conv"``: ``conv``, a 1x1x1 conv with bias ``c_in -> n``; the output keeps the map:
``[B, n, D, H, W]``. ``kind = "classify"``: ``norm`` (``channel_layer``: a LayerNorm over C
at every pixel, when the config names it), then the mean over D, H, W (``pool = "mean"``) or
the class token (``pool = "token"``), then ``fc``, a linear layer ``c_in -> n``: ``[B, n]``.
Keys, in creation order: ``fc.*``, then ``norm.weight``, ``norm.bias``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from blockspec.errors import SpecValueError
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
        self.norm: nn.LayerNorm | None = None
        if cfg.norm == "channel_layer":
            eps = 1e-5 if cfg.norm_eps is None else cfg.norm_eps
            self.norm = nn.LayerNorm(cfg.c_in, eps=eps)

    def forward(self, x: torch.Tensor, token: torch.Tensor | None = None) -> torch.Tensor:
        """``x``: the map ``[B, C, D, H, W]``; ``token``: the class token ``[B, C]`` (the
        backbone gives it when the stem has one)."""
        if self.cfg.kind == "conv":
            y = self.conv(x)
            if self.cfg.factor != (1, 1, 1):  # back to the input's size (after a stem)
                y = F.interpolate(y, scale_factor=self.cfg.factor, mode="trilinear")
            return y
        if self.cfg.pool == "token":
            if token is None:
                raise SpecValueError(
                    "pool = token needs the class token", hint="set stem { class_token = true }"
                )
            return self.fc(token if self.norm is None else self.norm(token))
        if self.norm is not None:  # per pixel: [B, C, D, H, W] <-> [B, D, H, W, C]
            x = self.norm(x.permute(0, 2, 3, 4, 1)).permute(0, 4, 1, 2, 3)
        return self.fc(x.mean(dim=(2, 3, 4)))

    def extra_repr(self) -> str:
        c = self.cfg
        what = "out_channels" if c.kind == "conv" else "classes"
        up = f", upsample={c.factor}" if c.factor != (1, 1, 1) else ""
        more = f", norm={c.norm}" if c.norm != "none" else ""
        more += f", norm_eps={c.norm_eps:g}" if c.norm_eps is not None else ""
        more += f", pool={c.pool}" if c.pool != "mean" else ""
        return f"{c.kind}, {c.c_in} -> {what}={c.n}{up}{more}"
