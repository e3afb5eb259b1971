"""What every converter shares: the error, the key bookkeeping and the tensor re-orderings."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ..errors import SpecError

__all__ = [
    "UnsupportedModelError", "ConversionError", "Converter", "fmt_number", "merge_permutation",
    "position_table_map", "stage_blocks", "refuse", "build", "eps_entry", "cell_lines",
    "swin_backbone", "vit_backbone", "document", "DEFAULT_EPS", "AFFINE",
]  # fmt: skip

#: a LayerNorm's (or a linear's) two tensors
AFFINE = ("weight", "bias")
#: torch's LayerNorm eps, which the spec leaves unwritten
DEFAULT_EPS = 1e-5


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


def eps_entry(eps: float) -> list[str]:
    """``norm_eps = ...`` when `eps` is not torch's default (then nothing)."""
    return [] if eps == DEFAULT_EPS else [f"norm_eps = {fmt_number(eps)}"]


def cell_lines(
    head: Sequence[str],
    *,
    ratio: float,
    act: str,
    eps: float,
    qkv_bias: bool,
    att_drop: float = 0.0,
    tail: Sequence[str] = (),
) -> list[str]:
    """The ``cell { }`` of a pre-norm transformer block (lin attention + lin MLP, LayerNorms):
    `head` entries first (window, heads, ...), then the ones every converter writes, `tail`,
    and the optional eps / qkv bias / attention dropout."""
    entries = [
        *head,
        "attention = lin",
        "mixer = lin",
        f"mixer_ratio = {fmt_number(ratio)}",
        "norm = channel_layer",
        f"activation = {act}",
        "cosine = false",
        "normalize_qk = false",
        *tail,
        *eps_entry(eps),
        *([] if qkv_bias else ["qkv_bias = false"]),
        *([f"att_dropout = {fmt_number(att_drop)}"] if att_drop else []),
    ]
    return ["cell {", *_aligned(entries), "}"]


def swin_backbone(
    channels: str, blocks: Sequence[int], rate: float, settings: Sequence[str],
    stages: Sequence[str],
) -> list[str]:  # fmt: skip
    """A Swin ``backbone soanet { }``: the stage strings, `settings` (downsampling, outputs),
    the drop-path rate and the per-stage entries `stages` (``stage i { ... }``)."""
    text = ", ".join(f'"{stage_blocks(n)}"' for n in blocks)
    entries = [f"channels = {channels}", f"stages = [{text}]", *settings]
    entries.append(f"drop_path_rate = {fmt_number(rate)}")
    return ["backbone soanet {", *_aligned(entries), *(f"  {s}" for s in stages), "}"]


def vit_backbone(stage: str, rate: float, extra: Sequence[str] = ()) -> list[str]:
    """A ViT's one-stage ``backbone soanet { }`` (no downsampling), `extra` entries last."""
    entries = ["channels = C", f'stages = ["{stage}"]', "downsample = false"]
    entries += [f"drop_path_rate = {fmt_number(rate)}", *extra]
    return ["backbone soanet {", *_aligned(entries), "}"]


def document(
    comment: str, lets: Sequence[str], dims: str, stem: Sequence[str],
    sections: Sequence[Sequence[str]],
) -> str:  # fmt: skip
    """A whole spec: the comment, the `let` lines (CHANNELS among them), ``input``, ``stem``
    (its entries) and the other sections (each a list of lines)."""
    lines = [f"# {comment}", *lets, "", f"input {{ channels = CHANNELS, {dims} }}"]
    lines += ["", f"stem {{ {', '.join(stem)} }}"]
    for section in sections:
        lines += ["", *section]
    return "\n".join(lines) + "\n"


def _aligned(entries: Sequence[str]) -> list[str]:
    """``key = value`` entries indented, their `=` in one column."""
    pairs = [e.split(" = ", 1) for e in entries]
    width = max(len(k) for k, _ in pairs)
    return [f"  {k.ljust(width)} = {v}" for k, v in pairs]


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

    def affine(self, src: str, dst: str) -> None:
        """`src`.weight / .bias into `dst`.weight / .bias."""
        self.copy_many((f"{src}.{p}", f"{dst}.{p}") for p in AFFINE)

    def stem_conv(self, src: str) -> None:
        """A patch-embedding conv `src` (2D weights get blockspec's D axis of 1) into stem.conv."""
        w = self.take(f"{src}.weight")
        self.put("stem.conv.weight", w if w.dim() == 5 else w.unsqueeze(2))
        self.copy(f"{src}.bias", "stem.conv.bias")

    def block(
        self, src: str, dst: str, *, qkv_bias: bool, proj: str, mlp: tuple[str, str],
        fused: bool = True,
    ) -> None:  # fmt: skip
        """A pre-norm transformer block: norm1/norm2, q/k/v (fused ``attn.qkv`` or
        ``attn.to_q/k/v``), the output projection `proj` and the MLP's two linears `mlp`."""
        for n in ("norm1", "norm2"):
            self.affine(f"{src}.{n}", f"{dst}.{n}")
        if fused:
            self.qkv(f"{src}.attn.qkv", f"{dst}.attn", bias=qkv_bias)
        else:
            parts = AFFINE if qkv_bias else ("weight",)
            for x in "qkv":
                self.copy_many((f"{src}.attn.to_{x}.{p}", f"{dst}.attn.{x}.{p}") for p in parts)
        self.affine(f"{src}.{proj}", f"{dst}.attn.out")
        for a, b in zip(mlp, ("fc1", "fc2"), strict=True):
            self.affine(f"{src}.mlp.{a}", f"{dst}.mixer.{b}")

    def merge(self, src: str, dst: str, dim: int, order: Sequence[tuple[int, ...]]) -> None:
        """A patch merging (norm over the folded channels, bias-free reduction) into `dst`."""
        import torch

        perm = torch.tensor(merge_permutation(dim, order))
        red = self.take(f"{src}.reduction.weight")[:, perm]
        self.put(f"{dst}.conv.weight", red[:, :, None, None, None].clone())
        for p in AFFINE:
            self.put(f"{dst}.norm.{p}", self.take(f"{src}.norm.{p}")[perm].clone())

    def pos_table(self, src: str, dst: str, ref_index: Any, ours: Any) -> None:
        """The relative-position table `src` re-ordered into `dst` (module `ours`)."""
        import torch

        table = self.take(src)
        rows = position_table_map(
            ref_index, ours.pos_index, table.shape[0], ours.pos_table.shape[0]
        )
        self.put(dst, table[torch.tensor(rows)].clone())

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
        """The blockspec state dict, after checking nothing is left over, missing or misshaped.

        Every tensor keeps the reference's dtype (a float64 reference gives float64 weights)."""
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
        return {k: self.out[k].contiguous() for k in target}


def _some(items: Sequence[str], n: int = 5) -> str:
    return ", ".join(items[:n]) + (", ..." if len(items) > n else "")


def build(
    spec_text: str, state: Mapping[str, Any], dtype: Any = None, frozen: Iterable[str] = ()
) -> Any:
    """Compile `spec_text`, move it to `dtype` (default: the state's first floating dtype)
    and load `state` strictly; the parameters `frozen` get ``requires_grad = False``.
    `model.spec` is set by `bs.compile`."""
    from .. import api

    if dtype is None:
        dtype = next((v.dtype for v in state.values() if v.is_floating_point()), None)
    model = api.compile(spec_text, seed=0)
    if dtype is not None:
        model = model.to(dtype)
    model.load_state_dict(state, strict=True)
    for name in frozen:
        model.get_parameter(name).requires_grad_(False)
    return model.eval()
