"""U-Net of any depth (SEMANTICS.md, "U-Net"): one loop over levels.

Key layout (L levels, l = 0..L-1)::

    level{l}.enc     Block  C_{l-1} -> C_l (C_in at l = 0), on the map halved l times
    level{l}.down    Resample, one step C_l -> C_l (level L-1's feeds the bridge)
    level{l}.up      Resample, x2 C_l -> C_l, on the deeper output (bridge or level l+1)
    level{l}.gate    Gate (when gate = true): up, skip, psi (each a 1x1x1 conv)
    level{l}.dec     Block  2C_l -> C_{l-1} (C_0 at l = 0), on [gated skip, up]
    bridge           Block  C_{L-1} -> C_{L-1}, on the map halved L times

e.g. ``level0.enc.cell0.attn.q.weight``, ``level1.down.step0.conv.weight``,
``level0.gate.psi.weight``, ``bridge.cell0...``. Returns one tensor ``[B, C_0, D, H, W]``.
"""

from __future__ import annotations

import torch
from torch import nn

from blockspec.runtime.backbones.base import Backbone
from blockspec.runtime.block import Block
from blockspec.runtime.config import BlockConfig, ResampleConfig, UNetConfig
from blockspec.runtime.sampling import Resample

__all__ = ["Gate", "UNet", "UNetLevel"]


class Gate(nn.Module):
    """Attention gate on a skip: ``g = sigmoid(psi(relu(up(u) + skip(s))))``, returns ``s * g``.

    ``up``, ``skip``: 1x1x1 convs C -> C with bias; ``psi``: 1x1x1 conv C -> 1 with bias.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.channels = channels
        self.up = nn.Conv3d(channels, channels, kernel_size=1, bias=True)
        self.skip = nn.Conv3d(channels, channels, kernel_size=1, bias=True)
        self.psi = nn.Conv3d(channels, 1, kernel_size=1, bias=True)

    def coefficients(self, u: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        """The gate ``g`` in (0, 1), one value per pixel: ``[B, 1, D, H, W]``."""
        return torch.sigmoid(self.psi(torch.relu(self.up(u) + self.skip(s))))

    def forward(self, u: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        return s * self.coefficients(u, s)

    def extra_repr(self) -> str:
        return f"channels={self.channels}"


class UNetLevel(nn.Module):
    """The modules of one level: ``enc``, ``down``, ``up``, ``gate`` (or None), ``dec``."""

    def __init__(
        self,
        level: int,
        channels: int,
        enc: BlockConfig,
        down: ResampleConfig,
        up: ResampleConfig,
        dec: BlockConfig,
        gate: bool,
    ) -> None:
        super().__init__()
        self.level = level
        self.channels = channels
        self.enc = Block(enc)
        self.down = Resample(down)
        self.up = Resample(up)
        self.gate = Gate(channels) if gate else None
        self.dec = Block(dec)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(skip, input of the next level)``."""
        skip = self.enc(x)
        return skip, self.down(skip)

    def decode(self, deeper: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        """Upsample the deeper output, gate the skip, concatenate [skip, up], decode."""
        u = self.up(deeper)
        if self.gate is not None:
            skip = self.gate(u, skip)
        return self.dec(torch.cat([skip, u], dim=1))

    def extra_repr(self) -> str:
        return f"level={self.level}, channels={self.channels}, gate={self.gate is not None}"


class UNet(Backbone):
    """U-Net with ``len(cfg.enc)`` levels and a bridge; see the module docstring for keys."""

    cfg: UNetConfig

    def build(self, cfg: UNetConfig) -> None:
        n = len(cfg.channels)
        lengths = {len(cfg.enc), len(cfg.down), len(cfg.up), len(cfg.dec)}
        if n < 1 or lengths != {n}:
            raise ValueError(
                f"UNetConfig needs one enc, down, up and dec per level ({n} levels), got "
                f"{len(cfg.enc)}, {len(cfg.down)}, {len(cfg.up)}, {len(cfg.dec)}"
            )
        self.levels = n
        for l in range(n):
            level = UNetLevel(
                l, cfg.channels[l], cfg.enc[l], cfg.down[l], cfg.up[l], cfg.dec[l], cfg.gate
            )
            self.add_module(f"level{l}", level)
        self.bridge = Block(cfg.bridge)

    def level(self, l: int) -> UNetLevel:
        """The modules of level ``l``."""
        return self._modules[f"level{l}"]  # type: ignore[return-value]

    def features(self, x: torch.Tensor) -> torch.Tensor | list[torch.Tensor]:
        skips = []
        for l in range(self.levels):
            skip, x = self.level(l).encode(x)
            skips.append(skip)
        x = self.bridge(x)
        outs: list[torch.Tensor] = []
        for l in reversed(range(self.levels)):
            x = self.level(l).decode(x, skips[l])
            outs.append(x)
        if self.cfg.deep_supervision:  # every level's decoder output, the finest (main) last
            return outs
        return x

    def extra_repr(self) -> str:
        c = self.cfg
        return (
            f"unet, levels={self.levels}, channels={list(c.channels)}, gate={c.gate}, "
            f"downsample={c.down[0].method}, upsample={c.up[0].method}, "
            f"downsample_depth={c.down[0].depth}"
        )
