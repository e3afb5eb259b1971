"""A small attention U-Net learns a synthetic denoising task (the runtime trains end to end)."""

from __future__ import annotations

import time

import pytest
import torch

from blockspec.runtime.config import HeadConfig
from blockspec.runtime.network import build_network

from . import factories as f

SIZE = (4, 16, 16)  # (D, H, W)


def phantoms(n: int, g: torch.Generator) -> torch.Tensor:
    """Smooth images ``[n, 1, D, H, W]``: sums of 3 Gaussian blobs drifting slowly over frames."""
    d, h, w = SIZE
    yy = torch.arange(h, dtype=torch.float32).view(1, 1, h, 1)
    xx = torch.arange(w, dtype=torch.float32).view(1, 1, 1, w)
    t = torch.arange(d, dtype=torch.float32).view(1, d, 1, 1)
    out = torch.zeros(n, d, h, w)
    for _ in range(3):
        cy, cx = torch.rand(2, n, 1, 1, 1, generator=g) * torch.tensor([h, w]).view(2, 1, 1, 1, 1)
        vy, vx = torch.randn(2, n, 1, 1, 1, generator=g) * 0.7
        sigma = 1.5 + 2.5 * torch.rand(n, 1, 1, 1, generator=g)
        amp = 0.5 + torch.rand(n, 1, 1, 1, generator=g)
        r2 = (yy - cy - vy * t) ** 2 + (xx - cx - vx * t) ** 2
        out = out + amp * torch.exp(-r2 / (2 * sigma**2))
    return out.unsqueeze(1)


def noisy(clean: torch.Tensor, g: torch.Generator, sigma: float = 0.3) -> torch.Tensor:
    return clean + sigma * torch.randn(clean.shape, generator=g)


def train(steps: int, batch: int = 4) -> tuple[float, float]:
    """Train a 3-level T1L1G1 U-Net (C = 8, 2 heads, window 4, patch 2) on fresh noisy phantoms;
    return the MSE on a fixed validation batch before and after."""
    g = torch.Generator().manual_seed(0)
    backbone = f.unet(
        3, size=SIZE, channels=8, blocks="T1L1G1", heads=2, window=(4, 4, 1), patch=(2, 2, 1)
    )
    cfg = f.network(backbone, channels=1, size=SIZE, head=HeadConfig("conv", 8, 1))
    net = build_network(cfg, seed=0)
    val_clean = phantoms(16, g)
    val_noisy = noisy(val_clean, g)

    def val_loss() -> float:
        net.eval()
        with torch.no_grad():
            return torch.nn.functional.mse_loss(net(val_noisy), val_clean).item()

    initial = val_loss()
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    start = time.perf_counter()
    for _ in range(steps):
        net.train()
        clean = phantoms(batch, g)
        loss = torch.nn.functional.mse_loss(net(noisy(clean, g)), clean)
        opt.zero_grad()
        loss.backward()
        opt.step()
    final = val_loss()
    elapsed = time.perf_counter() - start
    print(f"{steps} steps: initial {initial:.4f} final {final:.4f} ({elapsed:.1f} s)")
    return initial, final


NOISE_FLOOR = 0.3**2  # the loss of returning the noisy input unchanged


def test_unet_t1l1g1_starts_learning_to_denoise():
    """A short run (fast suite): the validation loss halves."""
    initial, final = train(steps=20)
    assert final < 0.5 * initial


@pytest.mark.slow
def test_unet_t1l1g1_learns_to_denoise():
    """A few hundred steps: far below the initial loss and below the noise floor (it denoises,
    not just copies its input)."""
    initial, final = train(steps=200)
    assert final < 0.1 * initial
    assert final < 0.5 * NOISE_FLOOR
