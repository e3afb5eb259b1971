"""The public strategies draw exactly the same examples as when the digest was recorded.

Guards `blockspec.testing.strategies` against accidental changes in refactors: a fixed,
derandomized number of examples is drawn from every public strategy (several argument
combinations of `specs()`), written out canonically and hashed with SHA-256.

A deliberate change of what a strategy draws (new keys, other choices, another draw order)
changes the digest: check the new examples are what you meant, then update `DIGEST` below
(``python tests/properties/test_strategies_stable.py`` prints the current one).
"""

from __future__ import annotations

import hashlib
import sys

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from blockspec.testing.strategies import (
    NearMiss,
    SpecText,
    block_strings,
    cells,
    commented_specs,
    mutated_texts,
    near_miss_specs,
    specs,
)

#: recorded on the single-module strategies.py before it was split into a package
DIGEST = "f693d300fabbd849907cc2c0359a5d5fdcb0254a6f1ec27a8d000fdab0ef3a3c"

_SPEC_ARGS: tuple[dict[str, object], ...] = (
    {},
    {"backbone": "unet", "dims": "2d"},
    {"backbone": "hrnet", "dims": "2d+t"},
    {"backbone": "soanet", "dims": "3d"},
    {"dims": "3d", "backbone": "unet"},
    {"dynamic": True},
    {"backbone": "unet", "dynamic": True, "max_cells": 3},
    {"max_params": 50_000, "max_cells": 2},
)


def _canon(x: object) -> str:
    """One example as stable text (sets sorted, classes by qualified name)."""
    if isinstance(x, SpecText):
        return repr(
            (x.text, x.backbone, x.dims, x.dynamic, x.size, x.channels, x.codes, sorted(x.features))
        )
    if isinstance(x, NearMiss):
        return repr((x.text, x.error.__module__, x.error.__qualname__, x.line, x.column, x.kind))
    return repr(x)


def _draw(strategy: st.SearchStrategy[object], n: int) -> list[str]:
    """The first `n` examples hypothesis generates (derandomized, no database, no shrinking)."""
    out: list[str] = []

    @settings(
        derandomize=True,
        database=None,
        max_examples=n,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def collect(x: object) -> None:
        out.append(_canon(x))

    collect()
    return out


def _cases() -> list[tuple[str, st.SearchStrategy[object], int]]:
    cases: list[tuple[str, st.SearchStrategy[object], int]] = [
        (f"specs({sorted(kw.items())})", specs(**kw), 25)  # type: ignore[arg-type]
        for kw in _SPEC_ARGS
    ]
    cases += [
        ("cells()", cells(), 60),
        ("cells(codes=L1,C3)", cells(codes=("L1", "C3")), 30),
        ("block_strings()", block_strings(), 60),
        (
            "block_strings(2..9, 3d)",
            block_strings(min_cells=2, max_cells=9, codes=("S3", "Sh")),
            30,
        ),
        ("near_miss_specs()", near_miss_specs(), 80),
        ("near_miss_specs(window,heads)", near_miss_specs(kinds=("window", "heads")), 20),
        ("mutated_texts()", mutated_texts(), 40),
        ("mutated_texts(unet)", mutated_texts(base=specs(backbone="unet")), 20),
        ("commented_specs()", commented_specs(), 30),
    ]
    return cases


def digest() -> str:
    """SHA-256 over every drawn example of every case, in order."""
    h = hashlib.sha256()
    for name, strategy, n in _cases():
        examples = _draw(strategy, n)
        assert examples, name
        h.update(f"{name}\x00{len(examples)}\x00".encode())
        for e in examples:
            h.update(e.encode("utf-8", "surrogatepass") + b"\x00")
    return h.hexdigest()


def test_strategies_draw_the_recorded_examples() -> None:
    assert digest() == DIGEST


if __name__ == "__main__":
    sys.stdout.write(digest() + "\n")
