"""Machinery shared by the attention families (SEMANTICS.md, Attention modules).

`attend` does steps 2-5 for tokens already grouped: split heads (channels), prepare q and k
(cosine with a learned temperature, or standardised dot product), add the relative position
bias and masks, and call `scaled_dot_product_attention` with ``scale=1``.

`WindowAttention` is the base of the windowed families (L, G, L3, G3, V2, V3, S3, Sh): it owns
``q``, ``k``, ``v`` (convs on the map or lins on tokens), ``out``, ``tau`` and ``pos_table``;
a family only says how a map becomes groups of tokens (`partition` / `merge`), how sizes are
checked, and the grid of its position table.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import Tensor, nn

from blockspec.errors import ShapeError
from blockspec.runtime.attention.tiling import Tiling
from blockspec.runtime.config import CellConfig
from blockspec.runtime.layers import family_conv, require_multiple

__all__ = [
    "LOG_TAU_MAX",
    "LOG_TAU_INIT",
    "WindowAttention",
    "attend",
    "check_heads",
    "combine_masks",
    "relative_position_index",
]

#: the learned log-temperature of cosine attention is clamped at ln 100 ...
LOG_TAU_MAX = math.log(100.0)
#: ... and starts at ln 10
LOG_TAU_INIT = math.log(10.0)


def describe(cfg: CellConfig, keys: Sequence[str]) -> str:
    """``code=L1, 8->16, heads=4, ...``: a core's `extra_repr`, the given config keys."""
    return f"code={cfg.code}, {cfg.c_in}->{cfg.c_out}, " + ", ".join(
        f"{k}={getattr(cfg, k)}" for k in keys
    )


def check_heads(cfg: CellConfig) -> None:
    """Raise `ShapeError` unless the heads divide the output channels."""
    if cfg.heads < 1 or cfg.c_out % cfg.heads != 0:
        raise ShapeError(
            f"{cfg.code}: {cfg.heads} heads do not divide the {cfg.c_out} output channels"
        )


def relative_position_index(grid: Sequence[int]) -> Tensor:
    """Index into a table of ``prod(2g-1)`` rows for every pair of tokens of a group.

    Tokens are numbered row-major over ``grid`` (the order in which `partition` flattens the
    group); the row of a pair is its offset along each axis, shifted to be >= 0, combined
    row-major in the same axis order. Returns ``[T, T]`` (int64), T = prod(grid).
    """
    axes = [torch.arange(g) for g in grid]
    coords = torch.stack(torch.meshgrid(*axes, indexing="ij")).flatten(1)  # [k, T]
    offsets = coords[:, :, None] - coords[:, None, :]  # [k, T, T], in [-(g-1), g-1]
    index = torch.zeros(offsets.shape[1:], dtype=torch.long)
    for axis, g in enumerate(grid):
        index = index * (2 * g - 1) + offsets[axis] + (g - 1)
    return index


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
    """Multi-head attention over grouped tokens.

    q, k: ``[..., T, F]``, v: ``[..., T, F_v]`` with features ordered channels outermost, so head
    h is the h-th contiguous chunk of F (its channels at every pixel of the token).
    ``tau`` (``[n]``) selects cosine logits ``cos(q, k)·exp(min(tau, ln 100))``; without it the
    logits are ``q·k / sqrt(d)``, q and k standardised first when ``normalize_qk``.
    ``attn_mask``: added to the logits (position bias, and -inf for masked pairs; see
    `combine_masks`), broadcast against ``[..., n, T, T]``; keep it 4D so that torch can pick
    its fused CPU kernel. Returns ``[..., T, F_v]``.
    """
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
    if attn_mask is not None and attn_mask.requires_grad and torch.is_grad_enabled():
        y = _explicit_attention(q, k, v, attn_mask, causal=causal, dropout_p=dropout_p)
    else:
        y = F.scaled_dot_product_attention(
            q, k, v, attn_mask=attn_mask, dropout_p=dropout_p, is_causal=causal, scale=1.0
        )
    return rearrange(y, "... n t f -> ... t (n f)")


def _explicit_attention(
    q: Tensor, k: Tensor, v: Tensor, mask: Tensor, *, causal: bool, dropout_p: float
) -> Tensor:
    """``softmax(q kᵀ + mask) v`` as three plain ops, for a mask that needs a gradient (a
    learned position bias in training). SDPA takes its unfused math path there, with extra
    checks; this is faster on CPU for every group size measured (BENCHMARKS.md). Dropout
    and causal masks stay with SDPA so that their random draws do not change."""
    if causal or dropout_p > 0.0:
        return F.scaled_dot_product_attention(
            q, k, v, attn_mask=mask, dropout_p=dropout_p, is_causal=causal, scale=1.0
        )
    logits = torch.matmul(q, k.transpose(-2, -1)) + mask
    return torch.matmul(torch.softmax(logits, dim=-1), v)


def combine_masks(bias: Tensor | None, mask: Tensor | None) -> Tensor | None:
    """One additive mask from a position bias ``[1, n, T, T]`` and a mask ``[1, 1, T, T]``
    (0 / -inf); either may be None."""
    if bias is None:
        return mask
    if mask is None:
        return bias
    return bias + mask


class WindowAttention(nn.Module):
    """Attention over groups of tokens cut from the map; subclasses define the grouping.

    ``token``: pixels per token (H, W, D) for the `lin` projections. ``grid``: the group's
    grid of tokens, in the order `partition` flattens it, for the position table (empty when
    there is no table). Parameters, built in this order: ``q``, ``k``, ``v``, ``out``
    (when ``out_proj``), ``tau`` (when ``cosine``), ``pos_table`` (when ``rel_pos_bias``);
    ``q``, ``k``, ``v`` have no bias when ``qkv_bias`` is false (``out`` always has one).
    """

    def __init__(self, cfg: CellConfig, token: tuple[int, int, int], grid: Sequence[int]) -> None:
        super().__init__()
        check_heads(cfg)
        self.cfg = cfg
        self.heads = cfg.heads
        self.lin = cfg.attention == "lin"
        self.token_pixels = token[0] * token[1] * token[2]
        c_in, c_out, qkv_bias = cfg.c_in, cfg.c_out, cfg.qkv_bias
        if self.lin:
            p = self.token_pixels
            self.q: nn.Module = nn.Linear(c_in * p, c_out * p, bias=qkv_bias)
            self.k: nn.Module = nn.Linear(c_in * p, c_out * p, bias=qkv_bias)
            self.v: nn.Module = nn.Linear(c_in * p, c_out * p, bias=qkv_bias)
            self.out: nn.Module | None = nn.Linear(c_out * p, c_out * p) if cfg.out_proj else None
        else:
            self.q = family_conv(cfg.family, c_in, c_out, qkv_bias)
            self.k = family_conv(cfg.family, c_in, c_out, qkv_bias)
            self.v = family_conv(cfg.family, c_in, c_out, qkv_bias)
            self.out = family_conv(cfg.family, c_out, c_out) if cfg.out_proj else None
        self.tau: nn.Parameter | None = (
            nn.Parameter(torch.full((cfg.heads,), LOG_TAU_INIT)) if cfg.cosine else None
        )
        self.grid = tuple(int(g) for g in grid)
        self.pos_table: nn.Parameter | None = None
        if cfg.rel_pos_bias:
            # rel_pos_table = written_window: the table of a larger grid, and the first T x T
            # entries of its index (T tokens of this cell's group)
            table = tuple(cfg.table_grid) or self.grid
            t = math.prod(self.grid)
            if len(table) != len(self.grid) or math.prod(table) < t:
                raise ShapeError(
                    f"{cfg.code}: position table grid {table} is smaller than {self.grid}"
                )
            rows = math.prod(2 * g - 1 for g in table)
            self.pos_table = nn.Parameter(torch.empty(rows, cfg.heads))
            nn.init.trunc_normal_(self.pos_table, std=0.02)
            index = relative_position_index(table)[:t, :t]
            self.register_buffer("pos_index", index.flatten(), persistent=False)

    # ---- what a family defines -------------------------------------------------------------
    def check(self, x: Tensor) -> None:
        """Raise `ShapeError` when the map's size does not fit the family's partitioning: the
        windows must tile it, and a global family's position table needs its static size."""
        three_d = self.tiling.three_d
        self.require_windows(x, depth=three_d)
        if self.pos_table is not None and not self.tiling.local:
            self.require_static(x, (2, 3, 4) if three_d else (3, 4))

    tiling: Tiling  # set by every family: how the map becomes groups of tokens

    def partition(self, x: Tensor) -> Tensor:
        """``[B, C, D, H, W]`` -> ``[groups, T, C·|token|]`` groups of tokens."""
        return self.tiling.partition(x)

    def merge(self, t: Tensor, shape: Sequence[int]) -> Tensor:
        """Inverse of `partition` for a map of ``shape`` ``(B, C, D, H, W)``."""
        return self.tiling.merge(t, shape)

    def shift(self, x: Tensor) -> Tensor:
        """Roll applied to q, k, v before partitioning (Swin shifted windows); identity here."""
        return x

    def unshift(self, x: Tensor) -> Tensor:
        """Inverse of `shift`, applied to the attention result before the out projection."""
        return x

    def attend_groups(self, q: Tensor, k: Tensor, v: Tensor, shape: Sequence[int]) -> Tensor:
        """Attention within every group of `partition`'s output, with the position bias (Sh
        overrides this to mask pairs across regions)."""
        return attend(q, k, v, attn_mask=self.bias(), **self.attend_options())

    def attend_options(self) -> dict:
        """Keyword arguments of `attend` other than the mask."""
        return dict(
            heads=self.heads,
            tau=self.tau,
            normalize_qk=self.cfg.normalize_qk,
            dropout_p=self.cfg.att_dropout if self.training else 0.0,
        )

    # ---- shared ----------------------------------------------------------------------------
    def bias(self) -> Tensor | None:
        """The relative position bias ``[1, n, T, T]``, or None."""
        if self.pos_table is None:
            return None
        t = math.prod(self.grid)
        # one gather straight into [n, T·T] (contiguous, as the attention kernels want it)
        return self.pos_table.t()[:, self.pos_index].view(1, self.heads, t, t)

    def forward(self, x: Tensor) -> Tensor:
        self.check(x)
        b, _, d, h, w = x.shape
        shape = (b, self.cfg.c_out, d, h, w)
        # three projections, each cut into tokens: one projection of the three weights
        # concatenated per call measured slower (forward 0.87-0.99x, ViT-B/16 forward+backward
        # 0.89x) with a higher training peak (up to 1.11x), BENCHMARKS.md
        if self.lin:
            # per-token lins: Q/K/V of a token depend on that token only, so rolling the input
            # first equals rolling q, k, v after their lins (Sh tokens are voxels)
            tokens = self.partition(self.shift(x))
            q, k, v = self.q(tokens), self.k(tokens), self.v(tokens)
        else:
            q, k, v = (self.partition(self.shift(conv(x))) for conv in (self.q, self.k, self.v))
        y = self.attend_groups(q, k, v, shape)
        if self.lin and self.out is not None:
            y = self.out(y)  # per token; commutes with the (voxel-wise) roll back
        y = self.unshift(self.merge(y, shape))
        if not self.lin and self.out is not None:
            y = self.out(y)
        return y

    def extra_repr(self) -> str:
        keys = ("heads", "window", "patch", "attention", "cosine", "normalize_qk", "rel_pos_bias")
        return describe(self.cfg, (*keys, "qkv_bias", "out_proj", "att_dropout"))

    # ---- helpers for subclasses ------------------------------------------------------------
    def require_windows(self, x: Tensor, depth: bool) -> None:
        """Raise `ShapeError` unless the window divides H and W (and D for 3D families)."""
        wh, ww, wd = self.cfg.window
        if depth:
            require_multiple(self.cfg.code, "depth", x.shape[2], wd, "window depth")
        require_multiple(self.cfg.code, "height", x.shape[3], wh, "window height")
        require_multiple(self.cfg.code, "width", x.shape[4], ww, "window width")

    def require_static(self, x: Tensor, axes: Sequence[int]) -> None:
        """Raise `ShapeError` unless ``x`` has the static size the module was built for on
        ``axes`` (tensor dims 2, 3, 4 = D, H, W); used by size-dependent position tables."""
        names = {2: "depth", 3: "height", 4: "width"}
        for axis in axes:
            want = self.cfg.size[axis - 2]
            if x.shape[axis] != want:
                raise ShapeError(
                    f"{self.cfg.code}: the relative position table was built for a map "
                    f"{names[axis]} of {want}, got {x.shape[axis]}",
                    hint="G/G3/V2/V3 with rel_pos_bias accept only the size they were built for",
                )
