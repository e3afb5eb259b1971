"""Mixers (the MLP of a cell): `conv` (conv3 -> activation -> conv3, per frame in every
family) and `lin` (per token: lin -> activation -> lin on the token's C·|token| features).

Hidden width h = floor(mixer_ratio · C_out). T/F and C2/C3 cells always use the conv mixer.
"""

from __future__ import annotations

import math

from einops import rearrange
from torch import Tensor, nn

from blockspec.language import FAMILIES
from blockspec.runtime.activations import build_activation
from blockspec.runtime.config import CellConfig
from blockspec.runtime.layers import conv3, require_multiple, token_shape

__all__ = ["ConvMixer", "LinMixer", "build_mixer", "mixer_hidden"]



def mixer_hidden(cfg: CellConfig) -> int:
    """Hidden width h = floor(mixer_ratio · C_out)."""
    return math.floor(cfg.mixer_ratio * cfg.c_out)


class ConvMixer(nn.Module):
    """``fc1`` = conv3 c_in -> h, ``act``, ``fc2`` = conv3 h -> c_out (per frame)."""

    def __init__(self, c_in: int, hidden: int, c_out: int, activation: str) -> None:
        super().__init__()
        self.fc1 = conv3(c_in, hidden)
        self.act = build_activation(activation)
        self.fc2 = conv3(hidden, c_out)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc2(self.act(self.fc1(x)))


class LinMixer(nn.Module):
    """``fc1`` = lin c_in·|t| -> h·|t|, ``act``, ``fc2`` = lin h·|t| -> c_out·|t| on every token
    of ``token`` = (th, tw, td) pixels; features ordered (c, pd, ph, pw), channels outermost."""

    def __init__(
        self, c_in: int, hidden: int, c_out: int, activation: str, token: tuple[int, int, int]
    ) -> None:
        super().__init__()
        self.token = token
        p = token[0] * token[1] * token[2]
        self.fc1 = nn.Linear(c_in * p, hidden * p)
        self.act = build_activation(activation)
        self.fc2 = nn.Linear(hidden * p, c_out * p)

    def forward(self, x: Tensor) -> Tensor:
        th, tw, td = self.token
        require_multiple("lin mixer", "depth", x.shape[2], td, "token depth")
        require_multiple("lin mixer", "height", x.shape[3], th, "token height")
        require_multiple("lin mixer", "width", x.shape[4], tw, "token width")
        # [B, C, D, H, W] -> [B, Md, Mh, Mw, C·pd·ph·pw]: one row per token
        t = rearrange(
            x, "b c (md pd) (mh ph) (mw pw) -> b md mh mw (c pd ph pw)", pd=td, ph=th, pw=tw
        )
        t = self.fc2(self.act(self.fc1(t)))
        return rearrange(
            t, "b md mh mw (c pd ph pw) -> b c (md pd) (mh ph) (mw pw)", pd=td, ph=th, pw=tw
        )

    def extra_repr(self) -> str:
        return f"token={self.token}"


def build_mixer(cfg: CellConfig, c_in: int) -> nn.Module:
    """The cell's mixer from ``c_in`` (C_out in the sequential layout, C_in in the parallel
    one) to ``cfg.c_out``, hidden width floor(mixer_ratio · C_out)."""
    hidden = mixer_hidden(cfg)
    if cfg.mixer == "lin" and FAMILIES[cfg.family].lin_ok:
        return LinMixer(c_in, hidden, cfg.c_out, cfg.activation, token_shape(cfg))
    return ConvMixer(c_in, hidden, cfg.c_out, cfg.activation)
