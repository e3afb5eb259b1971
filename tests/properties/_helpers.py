"""Helpers shared by the property tests."""

from __future__ import annotations

from hypothesis import settings

from blockspec.testing.properties import known_bug

__all__ = ["known_bug", "scaled"]


def scaled(factor: float) -> settings:
    """The loaded profile with `max_examples` scaled by `factor` (at least 1)."""
    base = settings.default
    return settings(base, max_examples=max(1, int(base.max_examples * factor)))
