"""blockspec: a compiler for imaging-network architectures.

``bs.parse`` a spec into validated IR, ``bs.compile`` it into a ``torch.nn.Module``,
``bs.summary`` its shapes and costs, ``bs.format`` its text, ``bs.save`` / ``bs.load``
checkpoints.
"""

from typing import Any

from .api import block, compile, create, example_input, format, parse, summary
from .errors import (
    BudgetError,
    CheckpointError,
    ShapeError,
    Span,
    SpecError,
    SpecSyntaxError,
    SpecValueError,
)

__version__ = "0.1.0"

#: names whose modules import torch: loaded on first use, so `import blockspec` (and
#: `blockspec check | fmt | summary`) start without it
_LAZY = {
    "save": "checkpoint",
    "load": "checkpoint",
    "load_training": "checkpoint",
    "param_groups": "training",
    "fsdp_wrap": "training",
    "train": "training",
    "list_specs": "registry",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'blockspec' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "parse", "compile", "block", "summary", "format", "save", "load", "load_training",
    "example_input", "train", "param_groups", "fsdp_wrap", "create", "list_specs",
    "SpecError", "SpecSyntaxError", "SpecValueError", "ShapeError", "BudgetError",
    "CheckpointError", "Span", "__version__",
]  # fmt: skip
