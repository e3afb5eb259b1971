"""Hypothesis strategies for blockspec specs (see docs/testing.md).

```python
from blockspec.testing import specs, block_strings, near_miss_specs
```
"""

from .strategies import (
    ALL_CODES,
    NearMiss,
    SpecText,
    block_strings,
    cells,
    commented_specs,
    mutated_texts,
    near_miss_specs,
    specs,
)

__all__ = [
    "ALL_CODES",
    "NearMiss",
    "SpecText",
    "block_strings",
    "cells",
    "commented_specs",
    "mutated_texts",
    "near_miss_specs",
    "specs",
]
