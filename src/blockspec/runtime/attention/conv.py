"""The convolution core of `C2` / `C3` cells: conv (conv3 / conv333) C_in -> C_out, a norm of
the cell's kind (eps ``norm_eps``) over C_out, the activation. It sits where attention would
in a cell."""

from __future__ import annotations

from torch import Tensor, nn

from blockspec.runtime.activations import build_activation
from blockspec.runtime.config import CellConfig
from blockspec.runtime.layers import family_conv
from blockspec.runtime.norms import build_norm

__all__ = ["ConvCore"]


class ConvCore(nn.Module):
    """``conv`` -> ``norm`` -> ``act``; any map size (unless the norm is `layer`)."""

    def __init__(self, cfg: CellConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.conv = family_conv(cfg.family, cfg.c_in, cfg.c_out)
        self.norm = build_norm(cfg.norm, cfg.c_out, cfg.size, cfg.norm_eps)
        self.act = build_activation(cfg.activation)

    def forward(self, x: Tensor) -> Tensor:
        return self.act(self.norm(self.conv(x)))

    def extra_repr(self) -> str:
        c = self.cfg
        return f"code={c.code}, {c.c_in}->{c.c_out}, norm={c.norm}, activation={c.activation}"
