"""Training compiled models: optimizer groups, DDP/FSDP, synthetic data and a training loop.

``param_groups(model)`` (no weight decay on norms, biases, position tables, temperatures),
``fsdp_wrap(model)`` (FSDP2 with every block a sharding unit), ``train(spec, task=...)`` (the
loop behind ``blockspec train``). See docs/training.md.
"""

from blockspec.training.data import SHAPE_KINDS, Synthetic, phantoms, shapes
from blockspec.training.distributed import fsdp_wrap
from blockspec.training.loop import TrainResult, train
from blockspec.training.params import param_groups

__all__ = [
    "SHAPE_KINDS",
    "Synthetic",
    "TrainResult",
    "fsdp_wrap",
    "param_groups",
    "phantoms",
    "shapes",
    "train",
]
