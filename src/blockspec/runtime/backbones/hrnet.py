"""HR-Net of any depth (SEMANTICS.md, "HR-Net"): one loop over stages and levels.

Key layout (L levels and stages; l = level, s = stage, l <= s)::

    level{l}.stage{s}            HRStage: the block itself (cells ``cell0``, ``cell1`` ...)
    level{l}.stage{s}.from{l'}   Resample from level l' < l at stage s-1 (down l-l' steps),
                                 one per lower level, for s >= 1
    fusion.level{l}.from{l'}     Resample from level l' != l after the last stage
                                 (down l-l' steps, or up x2^(l'-l) with a conv1)
    fusion.level{l}.out          Block C_l -> C_l

The block and the resamplers that feed it live in one module: `HRStage` is a `Block` that also
holds its ``from{l'}`` resamplers (its ``forward`` is the block's; `HRStage.gather` builds its
input). So ``level1.stage1.cell0.attn.q.weight`` and ``level1.stage1.from0.step0.conv.weight``
both exist, as DESIGN.md names them.

Stage inputs: (0, 0) takes the network input; every other (l, s) takes the sum of the outputs
of the earlier blocks of its level, (l, s') for l <= s' < s, and of every lower level at the
previous stage, (l', s-1) for l' < l, each through ``from{l'}``. Fusion:
``y_l = out_l(sum_l' R_l'->l(x_{l', L-1}))``; the aggregate concatenates y_0 and every y_l
interpolated (no parameters) to full size. Returns ``[y_0, ..., y_{L-1}, aggregate]``.
"""

from __future__ import annotations

import torch
from torch import nn

from blockspec.runtime.backbones.base import Backbone
from blockspec.runtime.block import Block
from blockspec.runtime.config import BlockConfig, HRNetConfig, ResampleConfig
from blockspec.runtime.sampling import Resample, upsample

__all__ = ["HRFusion", "HRLevel", "HRNet", "HRStage"]

Outputs = dict[tuple[int, int], torch.Tensor]


def _add_resamplers(
    module: nn.Module, sources: dict[int, ResampleConfig], want: set[int], what: str
) -> None:
    """Register ``from{l}`` for every source level, after checking they are exactly `want`."""
    if set(sources) != want:
        raise ValueError(
            f"{what} needs resamplers from levels {sorted(want)}, got {sorted(sources)}"
        )
    for l_from in sorted(sources):
        module.add_module(f"from{l_from}", Resample(sources[l_from]))


class HRStage(Block):
    """Block ``level{l}.stage{s}`` plus the resamplers ``from{l'}`` that bring lower levels in."""

    def __init__(
        self, cfg: BlockConfig, level: int, stage: int, sources: dict[int, ResampleConfig]
    ) -> None:
        super().__init__(cfg)
        self.hr_level = level
        self.hr_stage = stage
        want = set(range(level)) if stage > 0 else set()
        _add_resamplers(self, sources, want, f"level {level} stage {stage}")

    def gather(self, outs: Outputs) -> torch.Tensor:
        """This block's input: the sum of its sources' outputs (``outs`` keyed by (l, s))."""
        l, s = self.hr_level, self.hr_stage
        terms = [outs[(l, s2)] for s2 in range(l, s)]
        terms += [self._modules[f"from{lf}"](outs[(lf, s - 1)]) for lf in range(l)]
        total = terms[0]
        for t in terms[1:]:
            total = total + t
        return total

    def extra_repr(self) -> str:
        base = super().extra_repr()
        l, s = self.hr_level, self.hr_stage
        feeds = "input" if (l, s) == (0, 0) else self._sources_text()
        return f"{base + ', ' if base else ''}level={l}, stage={s}, inputs: {feeds}"

    def _sources_text(self) -> str:
        l, s = self.hr_level, self.hr_stage
        same = [f"({l}, {s2})" for s2 in range(l, s)]
        lower = [f"({lf}, {s - 1}) via from{lf}" for lf in range(l)]
        return " + ".join(same + lower)


class HRLevel(nn.Module):
    """Container of the stages ``stage{s}`` (s >= level) of one level (no forward of its own)."""

    def __init__(self, level: int, channels: int) -> None:
        super().__init__()
        self.level = level
        self.channels = channels

    def extra_repr(self) -> str:
        return f"level={self.level}, channels={self.channels}"


class HRFusionLevel(nn.Module):
    """``from{l'}`` resamplers and the ``out`` block of one level's fusion."""

    def __init__(
        self, level: int, levels: int, sources: dict[int, ResampleConfig], out: BlockConfig
    ) -> None:
        super().__init__()
        self.level = level
        self.levels = levels
        _add_resamplers(self, sources, set(range(levels)) - {level}, f"fusion of level {level}")
        self.out = Block(out)

    def forward(self, xs: list[torch.Tensor]) -> torch.Tensor:
        total = xs[self.level]
        for lf in range(self.levels):
            if lf != self.level:
                total = total + self._modules[f"from{lf}"](xs[lf])
        return self.out(total)

    def extra_repr(self) -> str:
        return f"level={self.level}, sums levels 0..{self.levels - 1}"


class HRFusion(nn.Module):
    """Container of the per-level fusions ``level{l}``."""

    def __init__(self, cfg: HRNetConfig) -> None:
        super().__init__()
        for l in range(cfg.levels):
            sources = {lf: r for (lt, lf), r in cfg.fusion if lt == l}
            self.add_module(f"level{l}", HRFusionLevel(l, cfg.levels, sources, cfg.out[l]))

    def forward(self, xs: list[torch.Tensor]) -> list[torch.Tensor]:
        return [self._modules[f"level{l}"](xs) for l in range(len(xs))]

    def extra_repr(self) -> str:
        return f"levels={len(self._modules)}, y_l = out_l(sum of all levels resampled to l)"


class HRNet(Backbone):
    """HR-Net with ``cfg.levels`` levels and stages; see the module docstring for keys."""

    cfg: HRNetConfig

    def build(self, cfg: HRNetConfig) -> None:
        n = cfg.levels
        blocks = dict(cfg.blocks)
        want = {(l, s) for s in range(n) for l in range(s + 1)}
        if n < 1 or set(blocks) != want or len(cfg.channels) != n or len(cfg.out) != n:
            raise ValueError(
                f"HRNetConfig with {n} levels needs blocks for {sorted(want)}, {n} channels and "
                f"{n} out blocks; got blocks {sorted(blocks)}"
            )
        self.levels = n
        for l in range(n):
            level = HRLevel(l, cfg.channels[l])
            for s in range(l, n):
                sources = {lf: r for (lt, st, lf), r in cfg.resamplers if (lt, st) == (l, s)}
                level.add_module(f"stage{s}", HRStage(blocks[(l, s)], l, s, sources))
            self.add_module(f"level{l}", level)
        self.fusion = HRFusion(cfg)

    def stage(self, l: int, s: int) -> HRStage:
        """Block ``level{l}.stage{s}``."""
        return self._modules[f"level{l}"]._modules[f"stage{s}"]  # type: ignore[index,return-value]

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        n = self.levels
        outs: Outputs = {}
        for s in range(n):
            for l in range(s + 1):
                block = self.stage(l, s)
                outs[(l, s)] = block(x if (l, s) == (0, 0) else block.gather(outs))
        ys = self.fusion([outs[(l, n - 1)] for l in range(n)])
        full = [ys[0]] + [
            upsample(ys[l], 2**l, self.cfg.upsample, self.cfg.depth) for l in range(1, n)
        ]
        return [*ys, torch.cat(full, dim=1)]

    def extra_repr(self) -> str:
        c = self.cfg
        down = next((r.method for _, r in c.fusion if r.direction == "down"), None)
        return (
            f"hrnet, levels={c.levels}, channels={list(c.channels)}, downsample={down}, "
            f"upsample={c.upsample}, downsample_depth={c.depth}"
        )
