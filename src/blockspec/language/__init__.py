"""The language, stated once: codes and families, keys and their types, options, limits.

Every other part of blockspec reads these tables: the compiler's passes, the diagnostics'
hints, the runtime's name -> class maps (checked against them by a test), the docs. This
package imports nothing from blockspec but `errors`, so any layer may import it.
"""

from __future__ import annotations

from . import families, keys, options
from .families import *  # noqa: F403
from .keys import *  # noqa: F403
from .options import *  # noqa: F403

__all__ = ["families", "keys", "options", *families.__all__, *keys.__all__, *options.__all__]
