"""SOANet, a stack of attention stages (SEMANTICS.md, "SOANet"): one loop over stages.

Key layout (S stages)::

    stage{s}         SOAStage: the block itself (cells ``cell0``, ``cell1`` ...)
    stage{s}.down    Resample, one x1/2 step C_{s-1} -> C_s, applied before the block
                     (s >= 1, only when downsampling is on)

`SOAStage` is a `Block` that also holds its optional ``down``; its ``forward`` runs ``down``
then the block, so ``stage1.cell0.attn.q.weight`` and ``stage1.down.step0.conv.weight`` both
exist and no module has two keys. Returns the list of stage outputs, first stage first.
"""

from __future__ import annotations

import torch

from blockspec.runtime.backbones.base import Backbone
from blockspec.runtime.block import Block
from blockspec.runtime.config import BlockConfig, ResampleConfig, SOANetConfig
from blockspec.runtime.sampling import Resample

__all__ = ["SOANet", "SOAStage"]


class SOAStage(Block):
    """Block ``stage{s}`` preceded by its optional downsampler ``stage{s}.down``."""

    def __init__(self, cfg: BlockConfig, stage: int, down: ResampleConfig | None) -> None:
        super().__init__(cfg)
        self.soa_stage = stage
        self.down = Resample(down) if down is not None else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.down is not None:
            x = self.down(x)
        return super().forward(x)

    def extra_repr(self) -> str:
        base = super().extra_repr()
        return f"{base + ', ' if base else ''}stage={self.soa_stage}"


class SOANet(Backbone):
    """SOANet with ``len(cfg.stages)`` stages; see the module docstring for keys."""

    cfg: SOANetConfig

    def build(self, cfg: SOANetConfig) -> None:
        n = len(cfg.stages)
        if n < 1 or len(cfg.down) != n or cfg.down[0] is not None:
            raise ValueError(
                f"SOANetConfig needs one down entry per stage ({n}), None for stage 0; "
                f"got {len(cfg.down)} entries"
            )
        self.stages = n
        for s in range(n):
            self.add_module(f"stage{s}", SOAStage(cfg.stages[s], s, cfg.down[s]))

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        outs = []
        for s in range(self.stages):
            x = self._modules[f"stage{s}"](x)
            outs.append(x)
        return outs

    def extra_repr(self) -> str:
        c = self.cfg
        down = next((d for d in c.down if d is not None), None)
        chans = [b.c_out for b in c.stages]
        method = down.method if down is not None else "off"
        depth = down.depth if down is not None else False
        return (
            f"soanet, stages={len(c.stages)}, channels={chans}, downsample={method}, "
            f"downsample_depth={depth}"
        )
