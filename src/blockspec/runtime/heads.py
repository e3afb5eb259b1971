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
from blockspec.runtime.norms import build_norm

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
        # per pixel (and on the class token): HEAD_NORMS are norms over C alone
        self.norm = (
            build_norm(cfg.norm, cfg.c_in, (1, 1, 1), cfg.norm_eps) if cfg.norm != "none" else None
        )

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
            if self.norm is not None:  # the token as a one-pixel map
                token = self.norm(token[:, :, None, None, None]).flatten(1)
            return self.fc(token)
        if self.norm is not None:
            x = self.norm(x)
        return self.fc(x.mean(dim=(2, 3, 4)))

    def extra_repr(self) -> str:
        c = self.cfg
        what = "out_channels" if c.kind == "conv" else "classes"
        up = f", upsample={c.factor}" if c.factor != (1, 1, 1) else ""
        more = f", norm={c.norm}" if c.norm != "none" else ""
        more += f", norm_eps={c.norm_eps:g}" if c.norm_eps is not None else ""
        more += f", pool={c.pool}" if c.pool != "mean" else ""
        return f"{c.kind}, {c.c_in} -> {what}={c.n}{up}{more}"
