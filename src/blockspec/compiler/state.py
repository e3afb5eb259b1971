"""The frozen records the passes hand to each other.

A `Unit` is one compilation: the parsed spec and the overrides, and what each pass has added
(the `let` environment, the sections, the input and stem, the backbone's skeleton and
blocks, the head, the network). Passes never mutate a unit: each returns a new one
(`dataclasses.replace`), errors appended to `errors`. The pipeline raises them, sorted,
between phases.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

from ..errors import Span, SpecError
from . import ast as A
from . import ir
from .diagnostics import Consequence
from .values import Value

__all__ = ["Param", "Entries", "Slot", "Unit", "frozen"]

_EMPTY: Mapping = MappingProxyType({})


def _empty() -> Mapping:
    return _EMPTY


def frozen(d: Mapping) -> Mapping:
    """A read-only view of a dict built inside a pass."""
    return MappingProxyType(dict(d))


@dataclass(frozen=True)
class Param:
    """A resolved cell parameter and where it was set."""

    value: object
    origin: ir.Origin


@dataclass(frozen=True)
class Entries:
    """The entries of one section (or level/stage entry), evaluated, duplicates refused."""

    values: Mapping[str, Value] = field(default_factory=_empty)
    key_spans: Mapping[str, Span] = field(default_factory=_empty)
    subs: Mapping[int, tuple[A.Sub, Entries]] = field(default_factory=_empty)
    close: Span | None = None
    #: keys written whose value failed to evaluate (reported then: never "missing")
    failed: frozenset[str] = frozenset()

    def get(self, key: str) -> Value | None:
        return self.values.get(key)


@dataclass(frozen=True)
class Slot:
    """A block the topology places, before its cells exist: where it goes and what it gets.

    `sub` is the level/stage entry whose parameters apply; `k` the halvings of (H, W, D)
    that window sizing uses.
    """

    path: str
    lit: A.StrLit
    c_in: int
    c_out: int
    size: tuple[ir.Dim, ir.Dim, ir.Dim]
    k: tuple[int, int, int]
    level: int
    sub: int


@dataclass(frozen=True)
class Unit:
    """One compilation as it passes through the pipeline."""

    spec: A.Spec
    printed: A.Spec | None = None  # the spec the canonical text prints (key paths applied)
    override_exprs: Mapping[str, A.Expr] = field(default_factory=_empty)
    errors: tuple[SpecError, ...] = ()
    env: Mapping[str, Value] = field(default_factory=_empty)
    sections: Mapping[str, A.Section] = field(default_factory=_empty)  # the usable ones, by kind
    entries: Mapping[str, Entries] = field(default_factory=_empty)  # by section kind
    defaults: Mapping[str, Param] = field(default_factory=_empty)  # from `cell { }`
    subs: Mapping[int, tuple[A.Sub, Mapping[str, Param]]] = field(
        default_factory=_empty
    )  # level/stage entries
    input: ir.Input | None = None
    stem: ir.Stem | None = None
    skeleton: Any = None  # the backbone with a `Slot` wherever a block goes
    slots: tuple[Slot, ...] = ()  # in the order blocks are built (and cells counted)
    #: slot path -> its expanded cells (None where the block string failed)
    cells: Mapping[str, tuple[A.BCell, ...] | None] = field(default_factory=_empty)
    backbone: ir.UNet | ir.HRNet | ir.SOANet | None = None
    head: ir.Head | None = None
    heads: tuple[ir.Head, ...] = ()
    network: ir.Network | None = None

    def err(self, *errors: SpecError) -> Unit:
        """This unit with `errors` added (each error's collected ones; consequences dropped)."""
        flat: list[SpecError] = []
        for e in errors:
            flat.extend(x for x in (e.errors or [e]) if not isinstance(x, Consequence))
        return replace(self, errors=self.errors + tuple(flat)) if flat else self
