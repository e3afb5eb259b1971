"""Reading a reference model's configuration from its modules (what the constructor set)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ._common import refuse

__all__ = [
    "check_head_dim",
    "activation",
    "dhw_spec",
    "drop_path_rate",
    "hw_spec",
    "layer_norm_eps",
    "probability",
]


def hw_spec(h: int, w: int) -> tuple[list[str], str, str]:
    """The size `let`s of a 2D input and the names H and W use."""
    if h == w:
        return [f"let SIZE = {h}"], "SIZE", "SIZE"
    return [f"let SIZE_H = {h}", f"let SIZE_W = {w}"], "SIZE_H", "SIZE_W"


def dhw_spec(size: Sequence[int]) -> tuple[list[str], str]:
    """The size `let`s of a 3D input (s0, s1, s2) = (D, H, W) and its `input` entries."""
    d, h, w = (int(s) for s in size)
    if d == h == w:
        return [f"let SIZE = {h}"], "D = SIZE, H = SIZE, W = SIZE"
    lets = [f"let SIZE_D = {d}", f"let SIZE_H = {h}", f"let SIZE_W = {w}"]
    return lets, "D = SIZE_D, H = SIZE_H, W = SIZE_W"


def check_head_dim(family: str, qkv: Any, heads: int) -> None:
    """blockspec's head dim is C / heads: a fused `qkv` linear of another width is refused."""
    dim = qkv.in_features
    if qkv.out_features != 3 * dim:
        width = qkv.out_features // (3 * heads)
        raise refuse(family, "head_dim", width, f"dim // num_heads = {dim // heads}")


def activation(family: str, act: Any) -> str:
    """The spec's activation for a GELU module: blockspec's ``gelu`` is the tanh approximation
    (nn.GELU(approximate='tanh'), timm's GELUTanh), ``gelu_erf`` the exact one (nn.GELU(),
    timm's GELU); anything else is refused."""
    import torch.nn as nn

    kind = type(act)
    if kind is nn.GELU:
        return "gelu" if act.approximate == "tanh" else "gelu_erf"
    if kind.__module__.startswith("timm.") and kind.__name__ in _TIMM_GELU:
        return _TIMM_GELU[kind.__name__]
    raise refuse(
        family, "act_layer", kind.__name__, "GELU: nn.GELU (exact or tanh), timm's GELU, GELUTanh"
    )


#: timm's own GELU modules and the spec's activation each computes
_TIMM_GELU = {"GELU": "gelu_erf", "GELUTanh": "gelu"}


def layer_norm_eps(family: str, norms: Sequence[Any]) -> float:
    """The one eps of affine LayerNorms `norms` (all must be affine LayerNorms, same eps)."""
    import torch.nn as nn

    eps = set()
    for m in norms:
        if not isinstance(m, nn.LayerNorm):
            raise refuse(family, "norm_layer", type(m).__name__, "nn.LayerNorm")
        if not m.elementwise_affine or m.bias is None:
            raise refuse(family, "norm_layer affine", False, "a LayerNorm with weight and bias")
        eps.add(float(m.eps))
    if len(eps) > 1:
        raise refuse(family, "norm eps", sorted(eps), "one eps for all the cells' norms")
    return eps.pop() if eps else 1e-5


def probability(family: str, what: str, module: Any, zero: bool = False) -> float:
    """The rate of a dropout module (0 for Identity); `zero`: any other rate is refused."""
    p = float(getattr(module, "p", 0.0))
    if zero and p != 0.0:
        raise refuse(family, what, p, "0 (blockspec has no dropout there; set it to 0)")
    return p


def drop_path_rate(family: str, blocks: Sequence[Any]) -> float:
    """timm/MONAI's drop_path_rate R from the blocks' rates, which must be R·i/(N−1)."""
    rates = []
    for b in blocks:
        mods = [getattr(b, n, None) for n in ("drop_path", "drop_path1", "drop_path2")]
        rates.append(
            max([float(getattr(m, "drop_prob", 0.0)) for m in mods if m is not None] + [0.0])
        )
    n = len(rates)
    r = rates[-1] if rates else 0.0
    expect = [r * i / (n - 1) if n > 1 else 0.0 for i in range(n)]
    if any(abs(a - b) > 1e-6 for a, b in zip(rates, expect, strict=True)):
        raise refuse(family, "drop path rates", rates, "a linear schedule 0 .. drop_path_rate")
    return float(f"{r:.7g}")  # the float32 linspace's rate, as written
