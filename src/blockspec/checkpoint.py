"""Checkpoints that carry their spec (save/load). Not implemented yet: see the checkpoint issue."""

from __future__ import annotations

__all__ = ["save", "load"]


def save(model, path) -> None:
    """Save a compiled model with its canonical spec (not implemented yet)."""
    raise NotImplementedError("bs.save is not implemented yet (checkpoint issue #7)")


def load(path, spec=None):
    """Load a checkpoint saved by `save` (not implemented yet)."""
    raise NotImplementedError("bs.load is not implemented yet (checkpoint issue #7)")
