"""The records the runtime is built from, and the family sets its modules test.

The records themselves are the shared schema of `blockspec.language.schema` (plain numbers
and names, written once); the sets are derived from the language's family table.
"""

from __future__ import annotations

from blockspec.language import FAMILIES as _FAMILIES
from blockspec.language import families_where
from blockspec.language.schema import (
    BlockConfig,
    CellConfig,
    HeadConfig,
    HRNetConfig,
    InputConfig,
    NetworkConfig,
    ResampleConfig,
    Size,
    SOANetConfig,
    StemConfig,
    UNetConfig,
)

__all__ = [
    "FAMILIES", "FAMILIES_3D", "CONV_FAMILIES",
    "Size", "CellConfig", "BlockConfig", "ResampleConfig", "StemConfig", "UNetConfig",
    "HRNetConfig", "SOANetConfig", "HeadConfig", "InputConfig", "NetworkConfig",
]  # fmt: skip

#: attention / core families (the codes that select them: `blockspec.language.CODES`)
FAMILIES = tuple(_FAMILIES)
#: families whose convolutions (Q/K/V, output projection, P) are 3x3x3
FAMILIES_3D = families_where("three_d")
#: families without attention (a conv core)
CONV_FAMILIES = families_where("conv")
