"""SOANet, a stack of attention stages (SEMANTICS.md, "SOANet"): one loop over stages.

Key layout (S stages)::

    stage{s}         SOAStage: the block itself (cells ``cell0``, ``cell1`` ...)
    stage{s}.down    Resample, one x1/2 step C_{s-1} -> C_s, applied before the block
                     (s >= 1, only when downsampling is on)
    down_out         Resample, one x1/2 step after the last stage (``final_downsample``)
    outputs.norm{i}  LayerNorm over C of returned output i (``output_norm``; its weight and
                     bias only with ``channel_layer``)

`SOAStage` is a `Block` that also holds its optional ``down``; its ``forward`` runs ``down``
then the block, so ``stage1.cell0.attn.q.weight`` and ``stage1.down.step0.conv.weight`` both
exist and no module has two keys. Returns the list of stage outputs, first stage first (or
with ``outputs = stage_inputs`` every stage's input), then ``down_out``'s output, each through
the output norm (``channel_layer_plain``: the same LayerNorm without parameters).
"""

from __future__ import annotations

import torch
from torch import nn

from blockspec.runtime.backbones.base import Backbone
from blockspec.runtime.block import Block
from blockspec.runtime.config import BlockConfig, ResampleConfig, SOANetConfig
from blockspec.runtime.norms import ChannelLayerNorm
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

    def block(self, x: torch.Tensor) -> torch.Tensor:
        """The block alone, on the (already downsampled) stage input."""
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
        self.down_out = Resample(cfg.final_down) if cfg.final_down is not None else None
        self.stage_inputs = cfg.outputs == "stage_inputs"
        self.outputs: nn.ModuleDict | None = None
        if cfg.output_norm != "none":  # channel_layer_plain: the same norm without parameters
            affine = cfg.output_norm == "channel_layer"
            chans = [self._output_channels(s) for s in range(n)]
            if cfg.final_down is not None:
                chans.append(cfg.final_down.channels[-1])
            self.outputs = nn.ModuleDict(
                {f"norm{i}": ChannelLayerNorm(c, affine=affine) for i, c in enumerate(chans)}
            )

    def _output_channels(self, s: int) -> int:
        stage = self.cfg.stages[s]
        return stage.c_in if self.stage_inputs else stage.c_out

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        outs = []
        for s in range(self.stages):
            stage = self._modules[f"stage{s}"]
            if self.stage_inputs:
                if stage.down is not None:
                    x = stage.down(x)
                outs.append(x)
                x = stage.block(x)
            else:
                x = stage(x)
                outs.append(x)
        if self.down_out is not None:
            outs.append(self.down_out(x))
        if self.outputs is not None:
            outs = [self.outputs[f"norm{i}"](y) for i, y in enumerate(outs)]
        return outs

    def extra_repr(self) -> str:
        c = self.cfg
        down = next((d for d in c.down if d is not None), None)
        chans = [b.c_out for b in c.stages]
        method = down.method if down is not None else "off"
        depth = down.depth if down is not None else False
        text = (
            f"soanet, stages={len(c.stages)}, channels={chans}, downsample={method}, "
            f"downsample_depth={depth}"
        )
        if c.final_down is not None:
            text += ", final_downsample=True"
        if c.outputs != "stage_outputs":
            text += f", outputs={c.outputs}"
        if c.output_norm != "none":
            text += f", output_norm={c.output_norm}"
        return text
