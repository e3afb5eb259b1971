"""The intermediate representation: frozen, fully resolved, hashable.

Every node knows its place in the network (`path`, the module name it will have), the
configuration it lowers to (plain numbers of the shared schema, `blockspec.language.schema`)
and the source span it came from. Spans and origins take no part in equality, so the IR of a
spec and of its formatted text compare equal.

Sizes are ``(D, H, W)``; an axis is an `int` or, for a dynamic (``?``) input axis, a `Sym`
(the input size divided by a known factor).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from ..errors import Span
from ..language.schema import (
    BlockConfig,
    CellConfig,
    HeadConfig,
    ResampleConfig,
    StemConfig,
)

__all__ = [
    "Sym", "Dim", "Origin", "Cell", "Block", "Resample", "Gate", "Stem", "Head", "Input",
    "UNetLevel", "UNet", "HRNet", "SOANet", "OutputNorm", "Network", "concrete", "runtime_size",
]  # fmt: skip


@dataclass(frozen=True)
class Sym:
    """A dynamic size: the input axis `name` divided by `div`."""

    name: str
    div: int = 1

    def __truediv__(self, k: int) -> Sym:
        return Sym(self.name, self.div * k)

    def __mul__(self, k: int) -> Sym:
        """Upsampling: `k` must divide the divisor (a map is never larger than the input)."""
        if self.div % k:
            raise ValueError(f"{self} * {k} is not an input size divided by an integer")
        return Sym(self.name, self.div // k)

    def __str__(self) -> str:
        return self.name if self.div == 1 else f"{self.name}/{self.div}"


Dim = int | Sym


def _nospan() -> Span:
    return field(default=None, compare=False, repr=False)  # type: ignore[return-value]


@dataclass(frozen=True)
class Origin:
    """Where a cell parameter was set: `layer` is default | cell | level | override."""

    layer: str
    span: Span | None = None  # the value's text (its use site)
    let: str | None = None  # the `let` it came from, if any


@dataclass(frozen=True)
class Cell:
    path: str  # e.g. "level0.enc.cell1"
    config: CellConfig
    size: tuple[Dim, Dim, Dim]  # (D, H, W), symbolic where dynamic
    level: int  # halvings of H, W at this place (the k of window sizing)
    span: Span = _nospan()  # the code in the block string
    origins: tuple[tuple[str, Origin], ...] = field(default=(), compare=False, repr=False)

    def origin(self, key: str) -> Origin:
        for k, o in self.origins:
            if k == key:
                return o
        return Origin("default")


@dataclass(frozen=True)
class Block:
    path: str
    text: str
    cells: tuple[Cell, ...]
    dense: bool
    checkpoint: bool
    size: tuple[Dim, Dim, Dim]
    span: Span = _nospan()  # the block-string literal

    @property
    def config(self) -> BlockConfig:
        return BlockConfig(
            self.text, tuple(c.config for c in self.cells), self.dense, self.checkpoint
        )

    @property
    def c_in(self) -> int:
        return self.cells[0].config.c_in

    @property
    def c_out(self) -> int:
        return self.cells[-1].config.c_out


@dataclass(frozen=True)
class _Mapping:
    """A node that maps a map of `size_in` to one of `size_out` (a resampler, the stem)."""

    path: str
    config: object
    size_in: tuple[Dim, Dim, Dim]
    size_out: tuple[Dim, Dim, Dim]
    span: Span = _nospan()


@dataclass(frozen=True)
class Resample(_Mapping):
    """Down steps between levels or stages, or one upsampling (`ResampleConfig`)."""

    config: ResampleConfig


@dataclass(frozen=True)
class Stem(_Mapping):
    """The patch embedding before the backbone."""

    config: StemConfig


@dataclass(frozen=True)
class Head:
    """A task head on a backbone output of `size_in` (D, H, W)."""

    path: str
    config: HeadConfig
    size_in: tuple[Dim, Dim, Dim]
    span: Span = _nospan()


@dataclass(frozen=True)
class Gate:
    """U-Net attention gate on a skip connection (channels C at `size`)."""

    path: str
    channels: int
    size: tuple[Dim, Dim, Dim]


@dataclass(frozen=True)
class Input:
    channels: int
    size: tuple[Dim, Dim, Dim]  # static ints, or Sym("D"|"H"|"W")
    step: tuple[int, int, int] = (1, 1, 1)  # dynamic axes: sizes are multiples of this
    minimum: tuple[int, int, int] = (1, 1, 1)  # and at least this
    spans: tuple[Span | None, Span | None, Span | None] = field(
        default=(None, None, None), compare=False, repr=False
    )  # the D, H, W values in the text
    channels_span: Span | None = _nospan()


@dataclass(frozen=True)
class UNetLevel:
    enc: Block
    down: Resample
    up: Resample
    gate: Gate | None
    dec: Block


@dataclass(frozen=True)
class UNet:
    kind = "unet"
    levels: tuple[UNetLevel, ...]
    bridge: Block
    channels: tuple[int, ...]
    spans: tuple[tuple[str, Span], ...] = field(default=(), compare=False, repr=False)
    deep_supervision: bool = False  # every level's decoder output is returned


@dataclass(frozen=True)
class HRNet:
    kind = "hrnet"
    channels: tuple[int, ...]
    blocks: tuple[tuple[tuple[int, int], Block], ...]  # (l, s) -> block, in build order
    resamplers: tuple[tuple[tuple[int, int, int], Resample], ...]  # (l, s, l_from)
    fusion: tuple[tuple[tuple[int, int], Resample], ...]  # (l, l_from)
    out: tuple[Block, ...]
    upsample: str
    depth: bool
    aggregate_size: tuple[Dim, Dim, Dim]
    spans: tuple[tuple[str, Span], ...] = field(default=(), compare=False, repr=False)


@dataclass(frozen=True)
class OutputNorm:
    """The affine LayerNorm over C of one returned SOANet output (`output_norm`)."""

    path: str  # "outputs.norm{i}"
    channels: int
    size: tuple[Dim, Dim, Dim]


@dataclass(frozen=True)
class SOANet:
    kind = "soanet"
    stages: tuple[Block, ...]
    down: tuple[Resample | None, ...]
    spans: tuple[tuple[str, Span], ...] = field(default=(), compare=False, repr=False)
    final_down: Resample | None = None  # `down_out`, after the last stage
    outputs: str = "stages"  # "stages" | "stage_inputs"
    output_norm: str = "none"  # "none" | "channel_layer" | "channel_layer_plain"
    norms: tuple[OutputNorm, ...] = ()  # the affine output norms, one per output


def span_of(node: UNet | HRNet | SOANet, key: str) -> Span | None:
    """The span a backbone recorded for `key` (e.g. "levels")."""
    for k, sp in node.spans:
        if k == key:
            return sp
    return None


@dataclass(frozen=True)
class Network:
    input: Input
    stem: Stem | None
    backbone: UNet | HRNet | SOANet
    head: Head | None
    file: str = field(default="<string>", compare=False)
    source: str = field(default="", compare=False, repr=False)  # the text as written
    text: str = field(default="", compare=False, repr=False)  # canonical, overrides applied
    #: per-node shapes and costs (`infer.NodeStats`), attached once by the pipeline
    stats: tuple = field(default=(), compare=False, repr=False)
    #: `SpecWarning`s of the spec, in source order (attached by the pipeline)
    warnings: tuple = field(default=(), compare=False, repr=False)
    #: one head per returned output (`head conv { per_output = true }`), paths heads.N
    heads: tuple[Head, ...] = ()
    #: the backbone outputs returned, by index (`bs.compile(..., out_indices=...)`)
    out_indices: tuple[int, ...] | None = None

    def blocks(self) -> Iterator[Block]:
        """Every block, in module-construction order."""
        for node in self.nodes():
            if isinstance(node, Block):
                yield node

    def cells(self) -> Iterator[Cell]:
        for b in self.blocks():
            yield from b.cells

    def nodes(self) -> Iterator[Block | Resample | Gate | Stem | Head | OutputNorm]:
        """Every module-level node in the order the lowered network builds them."""
        if self.stem is not None:
            yield self.stem
        bb = self.backbone
        if isinstance(bb, UNet):
            for lv in bb.levels:
                yield lv.enc
                yield lv.down
            yield bb.bridge
            for lv in reversed(bb.levels):
                yield lv.up
                if lv.gate is not None:
                    yield lv.gate
                yield lv.dec
        elif isinstance(bb, HRNet):
            for (l, s), blk in bb.blocks:
                for key, r in bb.resamplers:
                    if key[:2] == (l, s):
                        yield r
                yield blk
            for _, r in bb.fusion:
                yield r
            yield from bb.out
        else:
            for d, blk in zip(bb.down, bb.stages):
                if d is not None:
                    yield d
                yield blk
            if bb.final_down is not None:
                yield bb.final_down
            yield from bb.norms
        if self.head is not None:
            yield self.head
        yield from self.heads


def concrete(size: tuple[Dim, Dim, Dim], inp: Input) -> tuple[int, int, int]:
    """Substitute the smallest valid input size for every symbolic axis."""
    out = []
    for ax in size:
        if isinstance(ax, Sym):
            i = "DHW".index(ax.name)
            out.append(max(1, inp.minimum[i] // ax.div))
        else:
            out.append(ax)
    return (out[0], out[1], out[2])


def runtime_size(size: tuple[Dim, Dim, Dim]) -> tuple[int | None, int | None, int | None]:
    """The size as the runtime sees it: None on dynamic axes."""
    d, h, w = (None if isinstance(a, Sym) else a for a in size)
    return (d, h, w)
