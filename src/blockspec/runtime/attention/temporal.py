"""Temporal attention `T` (alias `F`): the D frames of one sample attend to each other.

Q and K are `conv3` with stride ``temporal_stride`` in (H, W); V is `conv3` at full size. A
head's token is its C_out/n channels × all pixels of a frame (H'·W' for q/k, H·W for v). No
position bias: frames are exchangeable; ``causal`` lets frame t see frames <= t only.
Always conv Q/K/V (``attention = lin`` does not apply), without bias when ``qkv_bias`` is false.
"""

from __future__ import annotations

import torch
from einops import rearrange
from torch import Tensor, nn

from blockspec.runtime.attention.base import LOG_TAU_INIT, attend, check_heads, describe
from blockspec.runtime.config import CellConfig
from blockspec.runtime.layers import conv3, require_multiple

__all__ = ["TemporalAttention"]


class TemporalAttention(nn.Module):
    """Attention across frames; parameters ``q``, ``k``, ``v``, ``out``, ``tau``."""

    def __init__(self, cfg: CellConfig) -> None:
        super().__init__()
        check_heads(cfg)
        self.cfg = cfg
        self.stride = tuple(cfg.temporal_stride)
        qkv_bias = cfg.qkv_bias
        self.q = conv3(cfg.c_in, cfg.c_out, stride=self.stride, bias=qkv_bias)
        self.k = conv3(cfg.c_in, cfg.c_out, stride=self.stride, bias=qkv_bias)
        self.v = conv3(cfg.c_in, cfg.c_out, bias=qkv_bias)
        self.out = conv3(cfg.c_out, cfg.c_out) if cfg.out_proj else None
        self.tau = nn.Parameter(torch.full((cfg.heads,), LOG_TAU_INIT)) if cfg.cosine else None

    def forward(self, x: Tensor) -> Tensor:
        sh, sw = self.stride
        require_multiple(self.cfg.code, "height", x.shape[3], sh, "temporal stride")
        require_multiple(self.cfg.code, "width", x.shape[4], sw, "temporal stride")
        h, w = x.shape[3], x.shape[4]
        # [B, C, D, H', W'] -> [B, D frames, C·H'·W'] (channels outermost: heads are chunks)
        q = rearrange(self.q(x), "b c d h w -> b d (c h w)")
        k = rearrange(self.k(x), "b c d h w -> b d (c h w)")
        v = rearrange(self.v(x), "b c d h w -> b d (c h w)")
        y = attend(
            q,
            k,
            v,
            heads=self.cfg.heads,
            tau=self.tau,
            normalize_qk=self.cfg.normalize_qk,
            causal=self.cfg.causal,
            dropout_p=self.cfg.att_dropout if self.training else 0.0,
        )
        y = rearrange(y, "b d (c h w) -> b c d h w", h=h, w=w)
        if self.out is not None:
            y = self.out(y)
        return y

    def extra_repr(self) -> str:
        keys = ("heads", "temporal_stride", "causal", "cosine", "normalize_qk", "qkv_bias")
        keys = (*keys, "out_proj")
        return describe(self.cfg, (*keys, "att_dropout"))
