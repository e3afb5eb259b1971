"""Window sizing: the window (and patch) a cell gets at its level (SEMANTICS.md, windows).

A window or patch written in `cell { }` (or left at its default) follows the sizing rule
per halving of the map; one written at a level or on a cell is used as written. Either is
then clamped to the map it partitions. With ``rel_pos_table = written_window`` the position table
keeps the grid of the window as written (`table_grid`).
"""

from __future__ import annotations

from ..language import FAMILIES
from . import ir

__all__ = ["size_window", "sized", "table_grid"]


def table_grid(
    family: str, table: str, window: tuple[int, int, int], patch: tuple[int, int, int]
) -> tuple[int, ...]:
    """The position table's grid when it is not the cell's own: with ``rel_pos_table =
    written_window`` on a family with local windows, the grid of the written `window` and
    `patch` (given as (H, W, D)) in the runtime's grid order, (D, H, W) for the 3D families
    (the order their tokens are flattened in); else ``()``."""
    fam = FAMILIES[family]
    if table != "written_window" or not fam.local_windows:
        return ()
    grid = fam.grid(window, patch, (1, 1, 1))  # (H, W[, D])
    return (grid[2], grid[0], grid[1]) if fam.three_d else grid


def sized(w: int, k: int, rule: str) -> int:
    """A window length after `k` halvings under a `window_sizing` rule."""
    if rule == "keep_window_size":
        return w
    if rule == "keep_num_window":
        return max(1, w // 2**k)
    return max(1, w // 2 ** (k // 2))


def size_window(
    window: tuple[int, int, int],
    patch: tuple[int, int, int],
    window_sized: bool,
    patch_sized: bool,
    rule: str,
    k: tuple[int, int, int],
    size: tuple[ir.Dim, ir.Dim, ir.Dim],
) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
    """Window and patch for a level: the sizing rule, then clamping to the map (per axis).

    `window`, `patch` and `k` are (H, W, D); `size` is (D, H, W).
    """
    w_out, p_out = list(window), list(patch)
    m = (size[1], size[2], size[0])
    for i in range(3):
        mi = m[i]
        if isinstance(mi, ir.Sym):
            continue  # dynamic axes: used as written
        if window_sized:
            w_out[i] = sized(window[i], k[i], rule)
        if patch_sized:
            p_out[i] = sized(patch[i], k[i], rule)
        if window_sized and mi >= 1 and w_out[i] > mi:
            w_out[i] = mi
            if patch_sized:
                p_out[i] = max(d for d in range(1, min(p_out[i], mi) + 1) if mi % d == 0)
    return (w_out[0], w_out[1], w_out[2]), (p_out[0], p_out[1], p_out[2])
