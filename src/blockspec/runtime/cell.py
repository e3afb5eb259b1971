"""A cell: norm + core (attention or conv) with a residual, then norm + mixer with a residual
(SEMANTICS.md, Cell). Submodule names are a contract: ``proj``, ``norm1``, ``attn`` (``core``
for C2/C3), ``norm2``, ``mixer``."""

from __future__ import annotations

from torch import Tensor, nn

from blockspec.runtime.attention import build_core
from blockspec.runtime.config import CONV_FAMILIES, CellConfig
from blockspec.runtime.layers import DropPath, family_conv
from blockspec.runtime.mixers import build_mixer
from blockspec.runtime.norms import build_norm

__all__ = ["Cell"]


class Cell(nn.Module):
    """One cell of a block, ``[B, C_in, D, H, W] -> [B, C_out, D, H, W]``.

    Sequential: ``x = P(x) + dp(core(norm1(x)))``, then ``x = x + dp(mixer(norm2(x)))`` when
    the code has a mixer. Parallel: ``x = P(x) + dp(core(n(x))) + dp(mixer(n(x)))`` with one
    norm (``norm1``) over C_in and a mixer C_in -> C_out. P (``proj``) is the family's conv
    when C_in != C_out, else the identity. Submodules are built in the order proj, norm1,
    core, norm2, mixer, so a seed gives the same weights.
    """

    def __init__(self, cfg: CellConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.parallel = cfg.layout == "parallel"
        self.proj = family_conv(cfg.family, cfg.c_in, cfg.c_out) if cfg.c_in != cfg.c_out else None
        self.norm1 = build_norm(cfg.norm, cfg.c_in, cfg.size, cfg.norm_eps)
        self.core_name = "core" if cfg.family in CONV_FAMILIES else "attn"
        self.add_module(self.core_name, build_core(cfg))
        self.norm2 = None
        self.mixer = None
        if cfg.has_mixer:
            if not self.parallel:
                self.norm2 = build_norm(cfg.norm, cfg.c_out, cfg.size, cfg.norm_eps)
            self.mixer = build_mixer(cfg, cfg.c_in if self.parallel else cfg.c_out)
        self.drop_path = DropPath(cfg.dropout)

    def forward(self, x: Tensor) -> Tensor:
        core = self._modules[self.core_name]
        skip = x if self.proj is None else self.proj(x)
        if self.parallel:
            n = self.norm1(x)
            y = skip + self.drop_path(core(n))
            if self.mixer is not None:
                y = y + self.drop_path(self.mixer(n))
            return y
        y = skip + self.drop_path(core(self.norm1(x)))
        if self.mixer is not None:
            y = y + self.drop_path(self.mixer(self.norm2(y)))
        return y

    def extra_repr(self) -> str:
        c = self.cfg
        eps = "" if c.norm_eps is None else f"(eps={c.norm_eps:g})"
        return (
            f"code={c.code}, {c.c_in}->{c.c_out}, size={c.size}, layout={c.layout}, "
            f"norm={c.norm}{eps}, mixer={c.mixer if c.has_mixer else None}, "
            f"mixer_ratio={c.mixer_ratio}, activation={c.activation}, dropout={c.dropout}"
        )
