"""Window and patch arithmetic of SEMANTICS.md, and a rough size estimate, for `specs()`."""

from __future__ import annotations

from collections.abc import Sequence

from .tables import _FAMILY, _THREE_D, _divisors


def _largest_divisor_at_most(m: int, p: int) -> int:
    return max(d for d in _divisors(m) if d <= max(1, p))


def _sized(w: int, p: int, k: int, rule: str, m: int) -> tuple[int, int]:
    """SEMANTICS.md "Window sizing across levels" for one axis, k halvings, map size m."""
    if rule == "keep_num_window":
        j = k
    elif rule == "mixed":
        j = k // 2
    else:
        j = 0
    wk, pk = max(1, w // 2**j), max(1, p // 2**j)
    if wk > m:
        wk = m
        pk = _largest_divisor_at_most(m, pk)
    return wk, pk


def _valid_pairs(maps: Sequence[int], rule: str, sized: bool) -> list[tuple[int, int]]:
    """(window, patch) pairs for `cell {}` valid at every map in `maps` (index = halvings)."""
    out = []
    top = maps[0]
    for w in range(1, 2 * top + 1):
        for p in _divisors(w):
            ok = True
            for k, m in enumerate(maps):
                wk, pk = _sized(w, p, k if sized else 0, rule, m) if sized else (w, p)
                if m % wk or wk % pk:
                    ok = False
                    break
            if ok:
                out.append((w, p))
    return out


def _cell_estimate(
    code: str, c_in: int, c_out: int, ratio: float, tok: int, lin: tuple[bool, bool]
) -> int:
    """A rough upper bound of a cell's parameters (only to keep examples small)."""
    k = 27 if _FAMILY[code] in _THREE_D else 9
    t = tok if lin[0] else 1
    core = 4 * k * c_in * c_out + 4 * (c_in * t) * (c_out * t)
    mixer = 2 * c_out * max(1, int(ratio * c_out)) * max(9, (tok * tok) if lin[1] else 9)
    return core + mixer + k * c_in * c_out
