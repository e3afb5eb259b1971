"""A block: cells in order, registered as ``cell0``, ``cell1``, ... (SEMANTICS.md, Block)."""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.utils.checkpoint import checkpoint

from blockspec.runtime.cell import Cell
from blockspec.runtime.config import BlockConfig

__all__ = ["Block"]


class Block(nn.Module):
    """``[B, C_in, D, H, W] -> [B, C_out, D, H, W]`` through the block's cells.

    ``dense``: the input of cell i > 0 is the sum of the outputs of cells 0..i-1; the block
    returns the last cell's output. ``checkpoint``: in training (with autograd on) the whole
    block runs under non-reentrant activation checkpointing; outputs and gradients are the
    same (the RNG state is replayed, so drop-path draws match).
    """

    def __init__(self, cfg: BlockConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.n_cells = len(cfg.cells)
        for i, cell_cfg in enumerate(cfg.cells):
            self.add_module(f"cell{i}", Cell(cell_cfg))

    def cells(self) -> list[Cell]:
        """The cells in order."""
        return [self._modules[f"cell{i}"] for i in range(self.n_cells)]  # type: ignore[misc]

    def _run(self, x: Tensor) -> Tensor:
        cells = self.cells()
        if not self.cfg.dense:
            for cell in cells:
                x = cell(x)
            return x
        y = cells[0](x)
        total = y
        for cell in cells[1:]:
            y = cell(total)
            total = total + y
        return y

    def forward(self, x: Tensor) -> Tensor:
        if self.cfg.checkpoint and self.training and torch.is_grad_enabled():
            return checkpoint(self._run, x, use_reentrant=False)
        return self._run(x)

    def extra_repr(self) -> str:
        return f"{self.cfg.text!r}, dense={self.cfg.dense}, checkpoint={self.cfg.checkpoint}"
