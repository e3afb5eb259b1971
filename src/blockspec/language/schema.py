"""The plain-number records a network is built from: what the compiler lowers to and the
runtime builds `torch.nn` modules from.

They hold only numbers, flags and short names (no spans, no spec text beyond the block string
shown in `extra_repr`), so the runtime never parses anything and never imports the compiler.
Both layers read this schema; it lives in the language table because it is the language's
meaning in numbers. Cell defaults are the `CELL_KEYS` defaults (written once, in `keys`).

Axis order conventions (the same as SEMANTICS.md):
- tensors are ``[B, C, D, H, W]``;
- ``size`` is ``(D, H, W)`` of the map a module receives; ``None`` on an axis means the size
  is dynamic (``?`` in the spec) and is checked at run time;
- ``window``, ``patch`` and ``stem.patch`` are written ``(H, W, D)`` as in the spec;
- ``temporal_stride`` is ``(H, W)``.
"""

from __future__ import annotations

from dataclasses import dataclass

from .keys import CELL_DEFAULTS as _D

__all__ = [
    "Size", "CellConfig", "BlockConfig", "ResampleConfig", "StemConfig", "UNetConfig",
    "HRNetConfig", "SOANetConfig", "HeadConfig", "InputConfig", "NetworkConfig",
]  # fmt: skip

Size = tuple[int | None, int | None, int | None]  # (D, H, W); None = dynamic


@dataclass(frozen=True)
class CellConfig:
    """One cell: norm + core (attention or conv) + residual, then optionally norm + mixer."""

    code: str  # as written in the block string, e.g. "L1", "S3", "F0" (for extra_repr)
    family: str  # a name of FAMILIES ("F" codes have family "T")
    has_mixer: bool
    c_in: int
    c_out: int
    size: Size  # (D, H, W) of the cell's input map
    window: tuple[int, int, int] = _D["window"]  # (H, W, D), already sized for this level
    patch: tuple[int, int, int] = _D["patch"]  # (H, W, D), already sized for this level
    heads: int = _D["heads"]
    attention: str = _D["attention"]  # "conv" | "lin"
    mixer: str = _D["mixer"]  # "conv" | "lin"
    mixer_ratio: float = _D["mixer_ratio"]
    norm: str = _D["norm"]
    norm_eps: float | None = _D["norm_eps"]  # every norm's eps; None: torch's default
    activation: str = _D["activation"]
    cosine: bool = _D["cosine"]
    normalize_qk: bool = _D["normalize_qk"]
    qkv_bias: bool = _D["qkv_bias"]  # Q, K, V projections with a bias
    rel_pos_bias: bool = _D["rel_pos_bias"]
    out_proj: bool = _D["out_proj"]
    att_dropout: float = _D["att_dropout"]
    dropout: float = _D["dropout"]
    layout: str = _D["layout"]  # "sequential" | "parallel"
    causal: bool = _D["causal"]
    temporal_stride: tuple[int, int] = _D["temporal_stride"]  # (H, W)
    window_padding: bool = _D["window_padding"]  # pad the map to a multiple of the window
    rel_pos_table: str = _D["rel_pos_table"]  # "level_window" | "written_window"
    #: the position table's grid when it is not the cell's own (rel_pos_table = written_window):
    #: the written window's grid, in the family's grid order; () = the cell's grid
    table_grid: tuple[int, ...] = ()


@dataclass(frozen=True)
class BlockConfig:
    """A chain of cells; the first maps c_in -> c_out, the others c_out -> c_out."""

    text: str  # the block string as written, e.g. "T1L1G1" (for extra_repr)
    cells: tuple[CellConfig, ...]
    dense: bool = False
    checkpoint: bool = False

    @property
    def c_in(self) -> int:
        return self.cells[0].c_in

    @property
    def c_out(self) -> int:
        return self.cells[-1].c_out


@dataclass(frozen=True)
class ResampleConfig:
    """One resampling module: down steps or one upsampling.

    ``direction = "down"``: ``len(channels) - 1`` single x1/2 steps, step i mapping
    ``channels[i] -> channels[i + 1]``, each by ``method`` ("interpolate" | "stride" | "merge").
    ``direction = "up"``: one interpolation by ``factor`` (``method`` "linear" | "nearest") then a
    conv1 ``channels[0] -> channels[-1]`` (``channels`` has two entries).
    ``depth``: D is halved / multiplied too. ``norm``: "channel_layer" puts a LayerNorm over
    the folded channels in every ``merge`` step (between the fold and the conv1), else None.
    """

    direction: str  # "down" | "up"
    method: str
    channels: tuple[int, ...]
    factor: int = 2
    depth: bool = False
    norm: str | None = None


@dataclass(frozen=True)
class StemConfig:
    """Patch embedding: one conv with bias, kernel = stride = patch (3D conv), then a norm;
    then, optionally, a class token before the map's pixels (the backbone then runs on the
    token row ``[B, C, 1, 1, 1 + D·H·W]``) and a learned position embedding."""

    c_in: int
    c_out: int
    patch: tuple[int, int, int]  # (H, W, D)
    norm: str | None  # a norm name or None
    size: Size  # (D, H, W) of the stem's output map (for the `layer` norm)
    norm_eps: float | None = None  # the norm's eps; None = torch's default
    pos_embed: str = "none"  # "none" | "learned" | "learned_map"
    class_token: bool = False


@dataclass(frozen=True)
class UNetConfig:
    """U-Net of any depth. Lists are indexed by level l = 0..L-1."""

    enc: tuple[BlockConfig, ...]
    down: tuple[ResampleConfig, ...]  # level l -> l+1 (the last feeds the bridge)
    bridge: BlockConfig
    up: tuple[ResampleConfig, ...]  # deeper output -> level l
    gate: bool
    dec: tuple[BlockConfig, ...]
    channels: tuple[int, ...]  # C_l per level
    deep_supervision: bool = False  # return every level's decoder output, the finest last


@dataclass(frozen=True)
class HRNetConfig:
    """HR-Net: blocks[(l, s)] for l <= s; resamplers keyed by (l, s, l_from) for the stages and
    by (l, l_from) for the fusion; out[l] the per-level output blocks."""

    levels: int
    channels: tuple[int, ...]
    blocks: tuple[tuple[tuple[int, int], BlockConfig], ...]
    resamplers: tuple[tuple[tuple[int, int, int], ResampleConfig], ...]
    fusion: tuple[tuple[tuple[int, int], ResampleConfig], ...]
    out: tuple[BlockConfig, ...]
    upsample: str  # "linear" | "nearest": for the parameter-free aggregate interpolation
    depth: bool  # D was halved too (for the aggregate's interpolation factors)


@dataclass(frozen=True)
class SOANetConfig:
    """Stack of attention: stage s = (optional downsample before it, its block)."""

    stages: tuple[BlockConfig, ...]
    down: tuple[ResampleConfig | None, ...]  # down[s] is None for s = 0 and when off
    final_down: ResampleConfig | None = None  # `down_out`, after the last stage
    outputs: str = "stage_outputs"  # "stage_outputs" | "stage_inputs"
    output_norm: str = "none"  # "none" | "channel_layer" | "channel_layer_plain"


@dataclass(frozen=True)
class HeadConfig:
    """``kind = "conv"``: conv1 (1x1x1) c_in -> n, then (when `factor` is not 1) a linear
    interpolation by `factor` (D, H, W) back to the input's size; ``"classify"``: the
    optional `norm` at every pixel, mean over D, H, W (or the class token, ``pool = "token"``),
    linear."""

    kind: str
    c_in: int
    n: int
    factor: tuple[int, int, int] = (1, 1, 1)
    norm: str = "none"  # "none" | "channel_layer" (classify)
    norm_eps: float | None = None  # the norm's eps; None = torch's default
    pool: str = "mean"  # "mean" | "token" (classify)


@dataclass(frozen=True)
class InputConfig:
    """What the compiled network accepts: ``[B, channels, D, H, W]``.

    A static axis must equal ``size``; a dynamic one (``size`` None) must be a positive
    multiple of ``step`` and at least ``minimum`` (the compiler derives both).
    """

    channels: int
    size: Size  # (D, H, W)
    step: tuple[int, int, int] = (1, 1, 1)  # (D, H, W)
    minimum: tuple[int, int, int] = (1, 1, 1)  # (D, H, W)


@dataclass(frozen=True)
class NetworkConfig:
    """A whole network: input check, optional stem, one backbone, optional head."""

    input: InputConfig
    backbone: UNetConfig | HRNetConfig | SOANetConfig
    stem: StemConfig | None = None
    head: HeadConfig | None = None
    #: one head per returned output (instead of `head` on the last), module names heads.N
    heads: tuple[HeadConfig, ...] = ()
    #: the backbone outputs to return, by index (None: all)
    out_indices: tuple[int, ...] | None = None
