"""Shared by the interop tests: perturbing a reference model and comparing outputs."""

from __future__ import annotations

import torch

#: float32 / float64 absolute tolerances the issue asks for
TOL = {torch.float32: 1e-4, torch.float64: 1e-10}


def perturb(model: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Move every norm weight, bias, position table / embedding and class token off its
    initial value, so that identity initialisation cannot hide a wrong mapping. The noise is
    drawn in each parameter's dtype: perturb AFTER ``.to(dtype)``, so that a float64 model holds
    values float32 cannot represent (a conversion through float32 then shows)."""
    g = torch.Generator().manual_seed(seed)
    words = ("norm", "bias", "position", "pos_embed", "cls_token", "relative")
    with torch.no_grad():
        for name, p in model.named_parameters():
            if any(w in name for w in words):
                p.add_(0.5 * torch.randn(p.shape, generator=g, dtype=p.dtype))
    return model.eval()


def count(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def capture(modules: dict[str, torch.nn.Module], to_map) -> dict[str, torch.Tensor]:
    """Register hooks storing each module's output (through `to_map`) under its name."""
    out: dict[str, torch.Tensor] = {}
    for name, mod in modules.items():
        mod.register_forward_hook(lambda m, i, o, name=name: out.__setitem__(name, to_map(o)))
    return out


def assert_close(a: torch.Tensor, b: torch.Tensor, dtype: torch.dtype, what: str) -> None:
    assert a.shape == b.shape, f"{what}: {tuple(a.shape)} vs {tuple(b.shape)}"
    err = (a - b).abs().max().item()
    assert err <= TOL[dtype], f"{what}: max abs difference {err:.3g} > {TOL[dtype]:g}"


def assert_dtype(state: dict[str, torch.Tensor], model: torch.nn.Module, dtype) -> None:
    """Every floating tensor of a converted state dict and model is in `dtype`."""
    bad = {k: v.dtype for k, v in state.items() if v.is_floating_point() and v.dtype != dtype}
    assert not bad, f"state dict not in {dtype}: {bad}"
    assert {p.dtype for p in model.parameters()} == {dtype}
