"""Training compiled models: optimizer groups, DDP/FSDP, synthetic data and a training loop.

``param_groups(model)`` (no weight decay on norms, biases, position tables, temperatures),
``fsdp_wrap(model)`` (FSDP2 with every block a sharding unit), ``train(spec, task=...)`` (the
loop behind ``blockspec train``). See docs/training.md.

The names are imported on first use, so ``import blockspec.training.cli`` (which the
``blockspec`` command does to build its parser) does not pull in torch.distributed or the
runtime.
"""

from __future__ import annotations

import importlib
from typing import Any

_NAMES = {
    "SHAPE_KINDS": "data",
    "Synthetic": "data",
    "phantoms": "data",
    "shapes": "data",
    "fsdp_wrap": "distributed",
    "TrainResult": "loop",
    "train": "loop",
    "param_groups": "params",
}

__all__ = sorted(_NAMES)


def __getattr__(name: str) -> Any:
    module = _NAMES.get(name)
    if module is None:
        raise AttributeError(f"module 'blockspec.training' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"blockspec.training.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return list(__all__)
