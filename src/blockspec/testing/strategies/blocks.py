"""Valid block strings and cells: codes, groups, repetition, per-cell overrides, spaces."""

from __future__ import annotations

from collections.abc import Sequence

from hypothesis import strategies as st

from .tables import _FAMILY, _GENERIC_OVERRIDES, _check_bounds, _check_codes, _Overrides


@st.composite
def _cell(draw, codes: Sequence[str], overrides: _Overrides) -> tuple[str, str]:
    """(text, code) of one cell with up to two overrides that apply to its family."""
    code = draw(st.sampled_from(codes))
    fam = _FAMILY[code]
    keys = sorted(
        k
        for k, (applies, vals) in overrides.items()
        if vals
        and (applies is None or fam in applies)
        # a code without a mixer ("L0") takes no mixer keys
        and not (code.endswith("0") and k in ("mixer", "mixer_ratio"))
    )
    n = draw(st.integers(0, min(2, len(keys))))
    if n == 0:
        return code, code
    chosen = draw(st.lists(st.sampled_from(keys), min_size=n, max_size=n, unique=True))
    parts = [f"{k}={draw(st.sampled_from(tuple(overrides[k][1])))}" for k in chosen]
    sep = draw(st.sampled_from((",", ", ")))
    return f"{code}({sep.join(parts)})", code


def cells(
    *, codes: Sequence[str] | None = None, overrides: _Overrides | None = None
) -> st.SearchStrategy[str]:
    """One cell: a code, optionally with valid per-cell overrides, e.g. ``L1(heads=1)``.

    `overrides` maps a key to (families it applies to or None, literal texts); the default is
    a set of values valid for any cell of any network.
    """
    codes = _check_codes(codes)
    table = _GENERIC_OVERRIDES if overrides is None else overrides
    return _cell(codes, table).map(lambda tc: tc[0])


@st.composite
def _items(
    draw, n: int, depth: int, codes: Sequence[str], overrides: _Overrides
) -> tuple[str, list[str]]:
    """Items expanding to exactly `n` cells: (text, expanded codes)."""
    out: list[str] = []
    expanded: list[str] = []
    remaining = n
    while remaining > 0:
        kinds = ["cell", "repeat"] + (["group"] if depth < 3 else [])
        kind = draw(st.sampled_from(kinds))
        if kind == "cell":
            text, code = draw(_cell(codes, overrides))
            piece, got = text, [code]
        elif kind == "repeat":
            text, code = draw(_cell(codes, overrides))
            k = draw(st.integers(1, remaining))
            star = draw(st.sampled_from(("*", " * ", "* ")))
            piece, got = f"{text}{star}{k}", [code] * k
        else:
            k = draw(st.integers(1, remaining))
            m = draw(st.integers(1, remaining // k))
            inner, inner_codes = draw(_items(m, depth + 1, codes, overrides))
            rep = k > 1 or draw(st.booleans())
            piece = f"({inner})" + (f"*{k}" if rep else "")
            got = inner_codes * k
        if out:
            # `L1(S3Sh)*2` is a code and a group: only `L1(` with a key after it is an override
            if draw(st.booleans()):
                out.append(" ")
        out.append(piece)
        expanded += got
        remaining -= len(got)
    return "".join(out), expanded


@st.composite
def _block(
    draw, min_cells: int, max_cells: int, codes: Sequence[str], overrides: _Overrides
) -> tuple[str, list[str]]:
    n = draw(st.integers(min_cells, max_cells))
    return draw(_items(n, 0, codes, overrides))


def block_strings(
    *,
    min_cells: int = 1,
    max_cells: int = 6,
    codes: Sequence[str] | None = None,
    overrides: _Overrides | None = None,
) -> st.SearchStrategy[str]:
    """Valid block strings expanding to `min_cells..max_cells` cells (without quotes).

    Uses codes, groups, repetition (``(S3Sh)*2``, ``L1*2``), per-cell overrides and spaces;
    shrinks towards a single bare code.
    """
    _check_bounds("min_cells", min_cells, "max_cells", max_cells, 1)
    codes = _check_codes(codes)
    table = _GENERIC_OVERRIDES if overrides is None else overrides
    return _block(min_cells, max_cells, codes, table).map(lambda tc: tc[0])
