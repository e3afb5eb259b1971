"""A block: cells in order, registered as ``cell0``, ``cell1``, ... (SEMANTICS.md, Block)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, nullcontext

import torch
from torch import Tensor, nn
from torch.nn.modules.batchnorm import _BatchNorm
from torch.utils.checkpoint import checkpoint

from blockspec.runtime.cell import Cell
from blockspec.runtime.config import BlockConfig

__all__ = ["Block"]


@contextmanager
def _running_stats_kept(module: nn.Module) -> Iterator[None]:
    """Restore every batch norm's running statistics on exit: the recomputation of a
    checkpointed forward must not update them a second time."""
    saved = [
        (m, m.running_mean.clone(), m.running_var.clone(), m.num_batches_tracked.clone())
        for m in module.modules()
        if isinstance(m, _BatchNorm) and m.track_running_stats and m.running_mean is not None
    ]
    try:
        yield
    finally:
        with torch.no_grad():
            for m, mean, var, count in saved:
                m.running_mean.copy_(mean)
                m.running_var.copy_(var)
                m.num_batches_tracked.copy_(count)


class Block(nn.Module):
    """``[B, C_in, D, H, W] -> [B, C_out, D, H, W]`` through the block's cells.

    ``dense``: the input of cell i > 0 is the sum of the outputs of cells 0..i-1; the block
    returns the last cell's output. ``checkpoint``: in training (with autograd on) the whole
    block runs under non-reentrant activation checkpointing; outputs and gradients are the
    same (the RNG state is replayed, so drop-path draws match), and batch norms' running
    statistics are updated once, not again by the recomputation.
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
            if torch.compiler.is_compiling():  # the traced graph recomputes without side effects
                return checkpoint(self._run, x, use_reentrant=False)
            return checkpoint(
                self._run,
                x,
                use_reentrant=False,
                context_fn=lambda: (nullcontext(), _running_stats_kept(self)),
            )
        return self._run(x)

    def extra_repr(self) -> str:
        return f"{self.cfg.text!r}, dense={self.cfg.dense}, checkpoint={self.cfg.checkpoint}"
