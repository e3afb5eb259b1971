"""The runtime's implementations before the fast paths, kept to measure against.

`use_legacy(model)` rebinds, on the instances of one model only, the forward paths that the
fast paths replaced: plain ``F.conv3d`` for every 3D conv, Sh's per-set attention with masks
rebuilt per call, the position bias gathered and permuted per call, and the double-permute
channel LayerNorm. Parameters and ``state_dict`` are untouched, so a model and its legacy
twin built from the same seed compute the same function; only the speed differs.

``fused_qkv`` (not a default part) is a path the runtime tried and dropped: Q, K and V as one
projection with the three weights concatenated per call and one token cut (slower, with a
higher training peak: BENCHMARKS.md).
"""

from __future__ import annotations

import itertools
import math
import types
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import Tensor, nn

from blockspec.runtime.attention.base import LOG_TAU_MAX, WindowAttention, combine_masks
from blockspec.runtime.attention.swin import ShiftedSwinAttention, swin_shifts
from blockspec.runtime.norms import ChannelLayerNorm

__all__ = ["EXPERIMENTS", "PARTS", "use_legacy"]


def attend(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    *,
    heads: int,
    tau: Tensor | None,
    normalize_qk: bool,
    attn_mask: Tensor | None = None,
    causal: bool = False,
    dropout_p: float = 0.0,
) -> Tensor:
    """The old `attend`: always SDPA."""
    q = rearrange(q, "... t (n f) -> ... n t f", n=heads)
    k = rearrange(k, "... t (n f) -> ... n t f", n=heads)
    v = rearrange(v, "... t (n f) -> ... n t f", n=heads)
    d = q.shape[-1]
    if tau is not None:
        scale = torch.clamp(tau, max=LOG_TAU_MAX).exp().to(q.dtype)
        q = F.normalize(q, dim=-1) * scale[:, None, None]
        k = F.normalize(k, dim=-1)
    else:
        if normalize_qk:
            q = F.layer_norm(q, (d,), eps=1e-5)
            k = F.layer_norm(k, (d,), eps=1e-5)
        q = q / math.sqrt(d)
    if attn_mask is not None:
        attn_mask = attn_mask.to(q.dtype)
    y = F.scaled_dot_product_attention(
        q, k, v, attn_mask=attn_mask, dropout_p=dropout_p, is_causal=causal, scale=1.0
    )
    return rearrange(y, "... n t f -> ... t (n f)")


def _bias(self: WindowAttention) -> Tensor | None:
    if self.pos_table is None:
        return None
    t = math.prod(self.grid)
    table = self.pos_table[self.pos_index.flatten()].reshape(t, t, self.heads)
    return table.permute(2, 0, 1).unsqueeze(0)


def _window_mask(self, last: Sequence[bool], shifts: Sequence[int], like: Tensor) -> Tensor:
    ids = torch.zeros((), dtype=torch.long, device=like.device)
    for is_last, w, s in zip(last, (self.wd, self.wh, self.ww), shifts, strict=True):
        axis = torch.zeros(w, dtype=torch.long, device=like.device)
        if is_last:
            axis[w - s :] = 1
        ids = ids[..., None] * 2 + axis
    ids = ids.flatten()
    apart = ids[:, None] != ids[None, :]
    mask = torch.zeros(apart.shape, dtype=like.dtype, device=like.device)
    return mask.masked_fill(apart, float("-inf"))[None, None]


def _sh_partition(self, x: Tensor) -> Tensor:
    b, c, d, h, w = x.shape
    wd, wh, ww = self.wd, self.wh, self.ww
    t = x.reshape(b, c, d // wd, wd, h // wh, wh, w // ww, ww)
    return t.permute(0, 2, 4, 6, 3, 5, 7, 1).reshape(b, d // wd, h // wh, w // ww, -1, c)


def _sh_merge(self, t: Tensor, shape: Sequence[int]) -> Tensor:
    b, c, d, h, w = shape
    wd, wh, ww = self.wd, self.wh, self.ww
    t = t.reshape(b, d // wd, h // wh, w // ww, wd, wh, ww, c)
    return t.permute(0, 7, 1, 4, 2, 5, 3, 6).reshape(b, c, d, h, w)


def _sh_attend_groups(self, q: Tensor, k: Tensor, v: Tensor, shape: Sequence[int]) -> Tensor:
    size = (shape[2], shape[3], shape[4])
    shifts = swin_shifts(self.cfg.window, size)
    counts = q.shape[1:4]
    parts = [
        [(slice(0, m - 1), False), (slice(m - 1, m), True)] if s > 0 else [(slice(0, m), False)]
        for m, s in zip(counts, shifts, strict=True)
    ]
    bias = _bias(self)
    options = self.attend_options()
    y = v.new_empty(v.shape)
    for pd, ph, pw in itertools.product(*parts):
        where = (slice(None), pd[0], ph[0], pw[0])
        last = (pd[1], ph[1], pw[1])
        mask = _window_mask(self, last, shifts, q) if any(last) else None
        qs, ks, vs = (t[where] for t in (q, k, v))
        out = attend(
            qs.flatten(0, 3),
            ks.flatten(0, 3),
            vs.flatten(0, 3),
            attn_mask=combine_masks(bias, mask),
            **options,
        )
        y[where] = out.reshape(vs.shape)
    return y


def _attend_groups(self, q: Tensor, k: Tensor, v: Tensor, shape: Sequence[int]) -> Tensor:
    return attend(q, k, v, attn_mask=_bias(self), **self.attend_options())


def _fused_forward(self: WindowAttention, x: Tensor) -> Tensor:
    """The dropped fused path: one Q/K/V projection of the concatenated weights."""
    self.check(x)
    b, _, d, h, w = x.shape
    shape = (b, self.cfg.c_out, d, h, w)
    weight = torch.cat([self.q.weight, self.k.weight, self.v.weight])
    bias = torch.cat([self.q.bias, self.k.bias, self.v.bias]) if self.cfg.qkv_bias else None
    if self.lin:
        qkv = F.linear(self.partition(self.shift(x)), weight, bias)
    elif isinstance(self.q, nn.Conv3d):
        qkv = self.partition(self.shift(_conv3d_with(self.q, x, weight, bias)))
    else:  # Conv3: per frame
        bb, c = x.shape[:2]
        frames = x.transpose(1, 2).reshape(bb * d, c, h, w)
        y = F.conv2d(frames, weight, bias, self.q.stride, self.q.padding)
        y = y.reshape(bb, d, y.shape[1], y.shape[2], y.shape[3]).transpose(1, 2)
        qkv = self.partition(self.shift(y))
    q, k, v = qkv.chunk(3, dim=-1)
    y = self.attend_groups(q, k, v, shape)
    if self.lin and self.out is not None:
        y = self.out(y)
    y = self.unshift(self.merge(y, shape))
    if not self.lin and self.out is not None:
        y = self.out(y)
    return y


def _conv3d_with(conv: nn.Conv3d, x: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
    from blockspec.runtime.layers import conv3d_by_frames

    if conv._frames_faster(x):  # type: ignore[attr-defined]
        return conv3d_by_frames(x, weight, bias, conv.stride, conv.padding)  # type: ignore[arg-type]
    return conv._conv_forward(x, weight, bias)


def _channel_ln(self: nn.LayerNorm, x: Tensor) -> Tensor:
    y = F.layer_norm(
        x.permute(0, 2, 3, 4, 1), self.normalized_shape, self.weight, self.bias, self.eps
    )
    return y.permute(0, 4, 1, 2, 3)


def _conv3d(self: nn.Conv3d, x: Tensor) -> Tensor:
    return F.conv3d(x, self.weight, self.bias, self.stride, self.padding)


PARTS = ("conv", "attention")
#: parts that are experiments, not the old runtime: chosen by name only
EXPERIMENTS = ("fused_qkv",)


def use_legacy(model: nn.Module, parts: tuple[str, ...] = PARTS) -> nn.Module:
    """Rebind the replaced forward paths on every submodule of ``model``; returns it.

    ``parts``: ``conv`` (plain conv3d), ``attention`` (Sh per window set with masks rebuilt
    per call, the bias gathered and permuted per call, always SDPA; the old channel
    LayerNorm), ``fused_qkv`` (see the module docstring).
    """
    for m in model.modules():
        if isinstance(m, nn.Conv3d) and "conv" in parts:
            m.forward = types.MethodType(_conv3d, m)
        elif isinstance(m, ChannelLayerNorm) and "attention" in parts:
            m.forward = types.MethodType(_channel_ln, m)
        elif isinstance(m, WindowAttention):
            if "fused_qkv" in parts:
                m.forward = types.MethodType(_fused_forward, m)
            if "attention" not in parts:
                continue
            if isinstance(m, ShiftedSwinAttention):
                m.attend_groups = types.MethodType(_sh_attend_groups, m)
                m.partition = types.MethodType(_sh_partition, m)
                m.merge = types.MethodType(_sh_merge, m)
            else:
                m.attend_groups = types.MethodType(_attend_groups, m)
    return model
