"""The one place the training loop saves and loads its state (model, optimizer, scheduler,
step, extra) through `blockspec.checkpoint`.

`blockspec.checkpoint.save(..., optimizer=, scheduler=, step=, extra=)` and
`blockspec.checkpoint.load_training` write and read it when this blockspec has them; until
then a stand-in writes the same fields into an ordinary `bs.save` file (which `bs.load`
still reads as a model checkpoint).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from blockspec import checkpoint as ckpt

__all__ = ["TrainingState", "load_state", "save_state"]


@dataclass
class TrainingState:
    """What a training checkpoint holds: the model (rebuilt from its spec, weights loaded) and
    the state of the rest of the run."""

    model: torch.nn.Module
    optimizer_state: dict | None = None
    scheduler_state: dict | None = None
    step: int = 0
    extra: dict = field(default_factory=dict)


def _native() -> bool:
    return hasattr(ckpt, "load_training")


def save_state(
    path: str | os.PathLike,
    model: torch.nn.Module,
    *,
    optimizer: torch.optim.Optimizer | None = None,
    scheduler: Any = None,
    step: int | None = None,
    extra: dict | None = None,
) -> None:
    """Write `model` with the training state to `path` (atomically, as `bs.save` does)."""
    if _native():
        ckpt.save(model, path, optimizer=optimizer, scheduler=scheduler, step=step, extra=extra)
        return
    # stand-in: the fields of bs.save plus the training state, in one file
    spec = getattr(model, "spec", None)
    if not isinstance(spec, str) or not spec:
        raise ckpt.CheckpointError(
            "cannot save: the model has no .spec (the canonical spec text)",
            hint="train a model built by bs.compile or bs.load; they carry their spec",
        )
    ckpt._check_describes(model, spec)
    state = {k: v.detach().to("cpu") for k, v in model.state_dict().items()}
    payload = {
        "format": ckpt.FORMAT,
        "format_version": ckpt.FORMAT_VERSION,
        "blockspec_version": ckpt._version(),
        "spec": spec,
        "seed": getattr(model, "seed", None),
        "weights_sha256": ckpt.weights_sha256(state),
        "state_dict": state,
        "optimizer": optimizer.state_dict() if optimizer is not None else None,
        "scheduler": scheduler.state_dict() if scheduler is not None else None,
        "step": step,
        "extra": extra or {},
    }
    ckpt._atomic_save(payload, Path(path))


def load_state(path: str | os.PathLike, map_location: Any = None) -> TrainingState:
    """Read a checkpoint written by `save_state` (or a plain `bs.save` file: step 0, no
    optimizer state); raises `CheckpointError` for a missing or damaged file."""
    if _native():
        rec = ckpt.load_training(path, map_location=map_location)
        return TrainingState(
            model=rec.model,
            optimizer_state=rec.optimizer_state,
            scheduler_state=rec.scheduler_state,
            step=int(rec.step or 0),
            extra=dict(rec.extra or {}),
        )
    model = ckpt.load(path, map_location=map_location or "cpu")
    payload = ckpt._read(Path(path))
    step = payload.get("step")
    return TrainingState(
        model=model,
        optimizer_state=payload.get("optimizer"),
        scheduler_state=payload.get("scheduler"),
        step=int(step) if isinstance(step, int) else 0,
        extra=dict(payload.get("extra") or {}),
    )
