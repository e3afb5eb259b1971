"""The one place the training loop saves and loads its state, through `blockspec.checkpoint`:
`bs.save(model, path, optimizer=, scheduler=, step=, extra=)` and `load_training`.

The file is an ordinary blockspec checkpoint (`bs.load` reads the model from it), with the
same hash and error guarantees.
"""

from __future__ import annotations

import os
from typing import Any

import torch

from blockspec import checkpoint as ckpt
from blockspec.checkpoint import TrainingCheckpoint

__all__ = ["TrainingCheckpoint", "load_state", "save_state"]


def save_state(
    path: str | os.PathLike,
    model: torch.nn.Module,
    *,
    optimizer: torch.optim.Optimizer | None = None,
    scheduler: Any = None,
    step: int | None = None,
    extra: dict | None = None,
) -> None:
    """Write `model` with the training state to `path` (atomically; `CheckpointError` on
    failure)."""
    ckpt.save(model, path, optimizer=optimizer, scheduler=scheduler, step=step, extra=extra)


def load_state(path: str | os.PathLike, map_location: Any = None) -> TrainingCheckpoint:
    """The model and training state of a checkpoint (`CheckpointError` for a missing or
    damaged file); a plain `bs.save` file has no optimizer state and step None."""
    return ckpt.load_training(path, map_location=map_location)
