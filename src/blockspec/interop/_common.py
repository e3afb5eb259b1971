"""What every converter shares: the error, the key bookkeeping and the tensor re-orderings."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ..errors import SpecError

__all__ = [
    "UnsupportedModelError", "ConversionError", "Converter", "fmt_number", "merge_permutation",
    "position_table_map", "stage_blocks", "refuse", "build",
]  # fmt: skip


class UnsupportedModelError(SpecError):
    """The reference model (or one of its arguments) has no counterpart in the spec language."""


class ConversionError(SpecError):
    """The weights do not map one to one (a key left over, missing, or of the wrong shape)."""


def refuse(family: str, attribute: str, value: Any, supported: str) -> UnsupportedModelError:
    """The error for a reference attribute the spec language cannot express."""
    return UnsupportedModelError(
        f"{family}: {attribute} = {value!r} is not supported",
        hint=f"supported: {supported}",
    )


def fmt_number(x: float) -> str:
    """A number as spec text: ints without a point, floats in their shortest exact form."""
    if float(x).is_integer() and abs(x) < 1e15:
        return str(int(x))
    return repr(float(x))


def stage_blocks(depth: int, first: str = "S3", second: str = "Sh") -> str:
    """A Swin stage of `depth` blocks alternating unshifted and shifted windows."""
    pairs, odd = divmod(depth, 2)
    text = f"({first}{second})*{pairs}" if pairs else ""
    return text + (first if odd else "")


def merge_permutation(channels: int, offsets: Sequence[tuple[int, ...]]) -> list[int]:
    """For every folded channel of blockspec's merge, the reference's folded channel.

    blockspec folds a 2x2 (2x2x2) neighbourhood into channel ``c·K + o`` where o is the offset
    (dh, dw[, dd]) read row-major, c outermost. `offsets` lists the reference's neighbours in
    its concatenation order, each as (dh, dw[, dd]); the reference channel is ``j·C + c`` for
    the j-th neighbour (channels last, c innermost).
    """
    n = len(offsets[0])
    ours = list(itertools.product(range(2), repeat=n))  # row-major (dh, dw[, dd])
    where = {tuple(o): j for j, o in enumerate(offsets)}
    if sorted(where) != sorted(ours):
        raise ValueError(f"not a 2^{n} neighbourhood: {offsets}")
    return [where[o] * channels + c for c in range(channels) for o in ours]


def position_table_map(
    ref_index: Any, our_index: Any, ref_rows: int, our_rows: int | None = None
) -> list[int]:
    """For every row of blockspec's relative-position table, the reference table's row.

    Both indexes are ``[T, T]`` (same token order): pair (i, j) reads row ``ref_index[i, j]``
    of the reference and row ``our_index[i, j]`` of ours, always the same reference row for
    the same row of ours. Our table has `our_rows` rows (default: the rows the index reads).
    Rows no pair reads (``rel_pos_table = written_window`` on a clamped window: only the first
    T x T entries of the written window's index are used) are carried over one to one, which
    needs tables of the same size and an identity map on the rows that are read.
    """
    import torch

    ref = torch.as_tensor(ref_index).reshape(-1).long()
    our = torch.as_tensor(our_index).reshape(-1).long()
    if ref.shape != our.shape:
        raise ConversionError(
            f"the position indexes cover {ref.numel()} and {our.numel()} token pairs"
        )
    rows = int(our.max()) + 1 if our_rows is None else int(our_rows)
    table = torch.full((rows,), -1, dtype=torch.long)
    table[our] = ref
    unread = table < 0
    if unread.any():
        read = ~unread
        identity = torch.arange(rows)
        if rows != ref_rows or not torch.equal(table[read], identity[read]):
            raise ConversionError(
                f"{int(unread.sum())} of {rows} relative position rows are read by no token "
                "pair and the tables do not match row for row"
            )
        table[unread] = identity[unread]
    if not torch.equal(table[our], ref) or int(ref.max()) >= ref_rows:
        raise ConversionError("the relative position tables do not map offset for offset")
    return table.tolist()


class Converter:
    """Collects blockspec tensors from a reference state dict, each source key used once."""

    def __init__(self, family: str, source: Mapping[str, Any]) -> None:
        self.family = family
        self.source = dict(source)
        self.used: set[str] = set()
        self.out: dict[str, Any] = {}

    def take(self, key: str) -> Any:
        """The reference tensor `key`, marked as consumed."""
        if key not in self.source:
            raise ConversionError(f"{self.family}: the reference state dict has no {key!r}")
        if key in self.used:
            raise ConversionError(f"{self.family}: {key!r} would be used twice")
        self.used.add(key)
        return self.source[key].detach()

    def put(self, key: str, value: Any) -> None:
        if key in self.out:
            raise ConversionError(f"{self.family}: {key!r} is written twice")
        self.out[key] = value

    def copy(self, src: str, dst: str) -> None:
        self.put(dst, self.take(src))

    def copy_many(self, pairs: Iterable[tuple[str, str]]) -> None:
        for src, dst in pairs:
            self.copy(src, dst)

    def qkv(self, src: str, dst: str, bias: bool) -> None:
        """A fused qkv linear (rows q, k, v; heads inside each) into dst.q / dst.k / dst.v."""
        for part in ("weight", "bias") if bias else ("weight",):
            for name, t in zip("qkv", self.take(f"{src}.{part}").chunk(3, dim=0), strict=True):
                self.put(f"{dst}.{name}.{part}", t.clone())

    def ignore(self, keys: Iterable[str]) -> None:
        """Mark buffers that blockspec recomputes (index tables, masks) as consumed."""
        for k in keys:
            if k in self.source:
                self.used.add(k)

    def finish(self, target: Mapping[str, Any]) -> dict[str, Any]:
        """The blockspec state dict, after checking nothing is left over, missing or misshaped."""
        left = sorted(set(self.source) - self.used)
        missing = sorted(set(target) - set(self.out))
        extra = sorted(set(self.out) - set(target))
        problems = []
        if left:
            problems.append(f"{len(left)} reference key(s) not used: {_some(left)}")
        if missing:
            problems.append(f"{len(missing)} blockspec key(s) not filled: {_some(missing)}")
        if extra:
            problems.append(f"{len(extra)} key(s) the spec does not have: {_some(extra)}")
        bad = [
            f"{k} {tuple(self.out[k].shape)} vs {tuple(target[k].shape)}"
            for k in sorted(set(target) & set(self.out))
            if tuple(self.out[k].shape) != tuple(target[k].shape)
        ]
        if bad:
            problems.append(f"{len(bad)} shape mismatch(es): {_some(bad)}")
        if problems:
            raise ConversionError(f"{self.family}: " + "; ".join(problems))
        return {k: self.out[k].to(dtype=target[k].dtype).contiguous() for k in target}


def _some(items: Sequence[str], n: int = 5) -> str:
    return ", ".join(items[:n]) + (", ..." if len(items) > n else "")


def build(spec_text: str, state: Mapping[str, Any], dtype: Any = None) -> Any:
    """Compile `spec_text` and load `state` strictly; `model.spec` is set by `bs.compile`."""
    from .. import api

    model = api.compile(spec_text, seed=0)
    if dtype is not None:
        model = model.to(dtype)
    model.load_state_dict(state, strict=True)
    return model.eval()
