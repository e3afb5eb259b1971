"""Hypothesis strategies for blockspec specs (see docs/testing.md).

```python
from blockspec.testing import specs, block_strings, near_miss_specs
```
"""

from . import strategies
from .strategies import ALL_CODES as ALL_CODES
from .strategies import NearMiss as NearMiss
from .strategies import SpecText as SpecText
from .strategies import block_strings as block_strings
from .strategies import cells as cells
from .strategies import commented_specs as commented_specs
from .strategies import mutated_texts as mutated_texts
from .strategies import near_miss_specs as near_miss_specs
from .strategies import specs as specs

#: the public names of `strategies`, less its per-dimension code tuples (`CODES_2D` ...)
__all__ = [name for name in strategies.__all__ if not name.startswith("CODES_")]
