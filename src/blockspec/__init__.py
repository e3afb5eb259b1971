"""blockspec: a compiler for imaging-network architectures.

``bs.parse`` a spec into validated IR, ``bs.compile`` it into a ``torch.nn.Module``,
``bs.summary`` its shapes and costs, ``bs.format`` its text; see DESIGN.md.
"""

from .api import block, compile, format, parse, summary
from .checkpoint import load, save
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

__all__ = [
    "parse", "compile", "block", "summary", "format", "save", "load",
    "SpecError", "SpecSyntaxError", "SpecValueError", "ShapeError", "BudgetError",
    "CheckpointError", "Span", "__version__",
]  # fmt: skip
