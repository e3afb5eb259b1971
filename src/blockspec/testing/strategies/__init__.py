"""Hypothesis strategies for blockspec: block strings, valid specs, near misses, mutations.

Every strategy builds text from the language definition (LANGUAGE.md, SEMANTICS.md) alone;
none of them calls the compiler, so tests can hold the compiler against them:

- `cells()` / `block_strings()`: valid block strings (codes, groups, repetition, overrides).
- `specs()`: valid spec texts (`SpecText`), tiny enough that a forward pass takes milliseconds.
- `near_miss_specs()`: a valid spec with exactly one defect and where the error must point
  (`NearMiss`).
- `mutated_texts()`: token- and byte-level mutations of valid specs (mostly invalid).

Modules: `tables` (codes, oracle tables, override tables, argument checks), `blocks`,
`specs` with `sizing` and `spec_parts`, `near_miss`, `mutations`. The private oracle tables
(`_FAMILY`, `_ATTN` ...), `_GENERIC_OVERRIDES`, `_block` and `NEAR_MISS_KINDS` are
re-exported here for the tests that read them.
"""

from __future__ import annotations

from .blocks import _block as _block
from .blocks import block_strings, cells
from .mutations import commented_specs, mutated_texts
from .near_miss import NEAR_MISS_KINDS as NEAR_MISS_KINDS
from .near_miss import NearMiss, near_miss_specs
from .specs import SpecText, specs
from .tables import _ACTIVATIONS as _ACTIVATIONS
from .tables import _ATTN as _ATTN
from .tables import _FAMILY as _FAMILY
from .tables import _GENERIC_OVERRIDES as _GENERIC_OVERRIDES
from .tables import _NORMS as _NORMS
from .tables import _PATCHED as _PATCHED
from .tables import _PER_FRAME_NORMS as _PER_FRAME_NORMS
from .tables import _SIZE_TABLES as _SIZE_TABLES
from .tables import _THREE_D as _THREE_D
from .tables import _WINDOWED as _WINDOWED
from .tables import ALL_CODES, CODES_2D, CODES_3D, CODES_T

__all__ = [
    "ALL_CODES",
    "CODES_2D",
    "CODES_3D",
    "CODES_T",
    "NearMiss",
    "SpecText",
    "block_strings",
    "cells",
    "commented_specs",
    "mutated_texts",
    "near_miss_specs",
    "specs",
]
