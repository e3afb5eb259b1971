"""The cell codes and the families they select: every fact about a family, written once.

A `Family` says what the compiler and the runtime need to know without looking at a module:
its dimensionality (3x3 per-frame or 3x3x3 convolutions), whether it attends at all, how it
partitions a map into groups of tokens, what a token is, and which keys mean something to it.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import prod

__all__ = ["Family", "FAMILIES", "CODES", "family_of", "families_where"]

# axes of a (H, W, D)-ordered window / patch that a family's tokens and groups span
_HW = (0, 1)
_HWD = (0, 1, 2)


@dataclass(frozen=True)
class Family:
    """One attention (or conv) family.

    - `three_d`: its convolutions are 3x3x3 (else 3x3 per frame) and its windows span D.
    - `attention`: it attends (False for the conv cores C2, C3).
    - `windowed`: it partitions the map into windows (`window`, `window_sizing`, `lin`).
    - `patched`: its tokens are patches (`patch` applies).
    - `token`: what one token is: "patch", "window" or "voxel" (one pixel).
    - `groups`: how tokens are grouped for attention: "local" (the patches of one window),
      "global" (the same patch position across all windows), "window" (the voxels of one
      window), "frames" (one pixel across all D frames) or "none".
    - `size_table`: its relative position table depends on the map size (global groups).
    - `temporal`: the temporal family (keys `causal`, `temporal_stride`; no position table).
    """

    name: str
    three_d: bool
    attention: bool
    windowed: bool
    patched: bool
    token: str
    groups: str
    temporal: bool = False

    @property
    def kernel(self) -> int:
        """Kernel volume of the family's convolutions (Q/K/V, out, P, conv core)."""
        return 27 if self.three_d else 9

    @property
    def axes(self) -> tuple[int, ...]:
        """Indices into an (H, W, D) window/patch that tokens and groups span."""
        return _HWD if self.three_d else _HW

    @property
    def size_table(self) -> bool:
        return self.groups == "global"

    @property
    def local_windows(self) -> bool:
        """Its groups are the tokens of one window (L, L3, S3, Sh): `window_padding` and
        `rel_pos_table` apply."""
        return self.groups in ("local", "window")

    @property
    def lin_ok(self) -> bool:
        """`attention = lin` and `mixer = lin` apply (every windowed family)."""
        return self.windowed

    def token_pixels(self, window: tuple[int, int, int], patch: tuple[int, int, int]) -> int:
        """Pixels per token; `window` and `patch` are (H, W, D)."""
        if self.token == "patch":
            return prod(patch[i] for i in self.axes)
        if self.token == "window":
            return prod(window[i] for i in self.axes)
        return 1

    def grid(
        self,
        window: tuple[int, int, int],
        patch: tuple[int, int, int],
        size: tuple[int, int, int],
    ) -> tuple[int, ...]:
        """Tokens per group along each spanned axis, in (H, W, D) order: the position grid.

        `size` is the map's (D, H, W).
        """
        m = (size[1], size[2], size[0])
        if self.groups == "local":
            return tuple(window[i] // patch[i] for i in self.axes)
        if self.groups == "window":
            return tuple(window[i] for i in self.axes)
        if self.groups == "global":
            return tuple(m[i] // window[i] for i in self.axes)
        return ()

    def group_size(
        self,
        window: tuple[int, int, int],
        patch: tuple[int, int, int],
        size: tuple[int, int, int],
    ) -> int:
        """Tokens that attend to each other in one group."""
        if self.groups == "frames":
            return size[0]
        return prod(self.grid(window, patch, size))


def _fam(name, three_d, attention, windowed, patched, token, groups, temporal=False) -> Family:
    return Family(name, three_d, attention, windowed, patched, token, groups, temporal)


#: family name -> facts (SEMANTICS.md, the families)
FAMILIES: dict[str, Family] = {
    f.name: f
    for f in (
        _fam("L", False, True, True, True, "patch", "local"),
        _fam("G", False, True, True, True, "patch", "global"),
        _fam("T", False, True, False, False, "voxel", "frames", temporal=True),
        _fam("L3", True, True, True, True, "patch", "local"),
        _fam("G3", True, True, True, True, "patch", "global"),
        _fam("V2", False, True, True, False, "window", "global"),
        _fam("V3", True, True, True, False, "window", "global"),
        _fam("S3", True, True, True, False, "voxel", "window"),
        _fam("Sh", True, True, True, False, "voxel", "window"),
        _fam("C2", False, False, False, False, "voxel", "none"),
        _fam("C3", True, False, False, False, "voxel", "none"),
    )
}

#: cell code -> (family, has_mixer); F codes are the temporal family under another letter
CODES: dict[str, tuple[str, bool]] = {
    "L1": ("L", True), "L0": ("L", False), "G1": ("G", True), "G0": ("G", False),
    "T1": ("T", True), "T0": ("T", False), "F1": ("T", True), "F0": ("T", False),
    "L3": ("L3", True), "G3": ("G3", True), "V2": ("V2", True), "V3": ("V3", True),
    "S3": ("S3", True), "Sh": ("Sh", True), "C2": ("C2", True), "C3": ("C3", True),
}  # fmt: skip


def family_of(code: str) -> Family:
    """The family a cell code selects."""
    return FAMILIES[CODES[code][0]]


def families_where(predicate: str) -> frozenset[str]:
    """Family names for which a named predicate holds (see `Family`): "all", "attention",
    "windowed", "patched", "temporal", "three_d", "size_table", "local_windows", "conv" (no
    attention)."""
    if predicate == "all":
        return frozenset(FAMILIES)
    if predicate == "conv":
        return frozenset(n for n, f in FAMILIES.items() if not f.attention)
    return frozenset(n for n, f in FAMILIES.items() if getattr(f, predicate))
