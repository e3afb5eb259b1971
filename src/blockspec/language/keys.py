"""The keys of every section: their types, defaults, where they apply, and the limits.

A key's type is declarative (`Type`): the compiler turns a type into a checker, the docs
and hints read it as text. A cell key also says which families it means something to
(`applies`, a `families_where` predicate), whether it is set per block rather than per cell
(`block_level`), and what the lowered config holds for a family it does not apply to
(`inert`: the value, or `KEEP` to keep the resolved value).
"""

from __future__ import annotations

from dataclasses import dataclass

from . import options as O

__all__ = [
    "Type", "CellKey", "KEEP", "CELL_KEYS", "CELL_DEFAULTS", "INPUT_KEYS", "STEM_KEYS",
    "BACKBONE_KEYS", "HEAD_KEYS", "LEVEL_ENTRY", "MAX_CELLS", "MAX_REPEAT",
    "MAX_GROUP_DEPTH", "MAX_MAGNITUDE", "MAX_OPERATORS", "MAX_NESTING", "MAX_LEVELS",
    "MAX_RESAMPLE_STEPS", "MIXER_KEYS",
    "RESERVED", "DEFAULT_CHANNELS", "DEFAULT_LEVELS", "DEFAULT_BLOCK",
]  # fmt: skip


@dataclass(frozen=True)
class Type:
    """What a key accepts.

    `kind` is "int" (>= `lo`), "float" (in [`lo`, `hi`], ends open where `lo_open`/`hi_open`),
    "bool", "name" (one of `options`), "ints" (`n` ints >= 1, one per axis of `axes`),
    "size" (an int or ``?``), "blocks" (a list of block strings), "block" (one block string),
    "channels" (an int, or a list of ints per level/stage) or "downsample" (a method name,
    or true/false for soanet). `none`: the bare name ``none`` is accepted too and means the
    key's unset value (None), e.g. ``norm_eps = none``: torch's default eps.
    """

    kind: str
    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False
    hi_open: bool = False
    options: tuple[str, ...] = ()
    n: int = 0
    axes: str = ""
    none: bool = False


def _name(opts) -> Type:
    return Type("name", options=tuple(opts))


_POS_INT = Type("int", lo=1)
_BOOL = Type("bool")
_PROB = Type("float", lo=0.0, hi=1.0, hi_open=True)
_EPS = Type("float", lo=0.0, lo_open=True, none=True)  # none: torch's default eps

KEEP = object()  # `inert`: the lowered config keeps the resolved value


@dataclass(frozen=True)
class CellKey:
    type: Type
    default: object
    applies: str = "all"  # a `families_where` predicate
    block_level: bool = False
    inert: object = KEEP  # the config's value for families the key does not apply to
    inert_for: str = ""  # predicate of the families that get `inert` ("": not applies)


#: cell keys, in the order the language documents them (and `cell {}` accepts them)
CELL_KEYS: dict[str, CellKey] = {
    "window": CellKey(Type("ints", n=3, axes="HWD"), (16, 16, 1), "windowed"),
    "patch": CellKey(Type("ints", n=3, axes="HWD"), (2, 2, 1), "patched"),
    "window_sizing": CellKey(_name(O.WINDOW_SIZING), "mixed", "windowed"),
    "heads": CellKey(_POS_INT, 16, "attention"),
    "attention": CellKey(_name(O.ATTENTION_KINDS), "conv", "lin_ok", inert="conv"),
    "mixer": CellKey(_name(O.MIXER_KINDS), "conv", "lin_ok", inert="conv"),
    "mixer_ratio": CellKey(Type("float", lo=0.0, lo_open=True), 4.0),
    "norm": CellKey(_name(O.NORMS), "instance2d"),
    "norm_eps": CellKey(_EPS, None),
    "activation": CellKey(_name(O.ACTIVATIONS), "prelu"),
    "cosine": CellKey(_BOOL, True, "attention"),
    "normalize_qk": CellKey(_BOOL, True, "attention"),
    "qkv_bias": CellKey(_BOOL, True, "attention", inert=True),
    "rel_pos_bias": CellKey(_BOOL, True, "windowed", inert=False, inert_for="temporal"),
    "out_proj": CellKey(_BOOL, True, "attention"),
    "att_dropout": CellKey(_PROB, 0.0, "attention"),
    "dropout": CellKey(_PROB, 0.1),
    "layout": CellKey(_name(O.LAYOUTS), "sequential"),
    "dense": CellKey(_BOOL, False, block_level=True),
    "causal": CellKey(_BOOL, False, "temporal", inert=False),
    "temporal_stride": CellKey(Type("ints", n=2, axes="HW"), (1, 1), "temporal"),
    "checkpoint": CellKey(_BOOL, False, block_level=True),
    "window_padding": CellKey(_BOOL, False, "local_windows", inert=False),
    "rel_pos_table": CellKey(
        _name(O.REL_POS_TABLES), "level_window", "local_windows", inert="level_window"
    ),
}
CELL_DEFAULTS: dict[str, object] = {k: key.default for k, key in CELL_KEYS.items()}
#: keys that only mean something on a cell with a mixer
MIXER_KEYS = frozenset({"mixer", "mixer_ratio"})

INPUT_KEYS: dict[str, Type] = {
    "channels": _POS_INT,
    "D": Type("size"),
    "H": Type("size"),
    "W": Type("size"),
}
STEM_KEYS: dict[str, Type] = {
    "patch": Type("ints", n=3, axes="HWD"),
    "channels": _POS_INT,
    "norm": _name(O.STEM_NORMS),
    "norm_eps": _EPS,
    "pos_embed": _name(O.POS_EMBEDS),
    "class_token": _BOOL,
}
_DOWN = _name(O.DOWNSAMPLE)
_DOWN_NORM = _name(O.DOWNSAMPLE_NORMS)
_UP = _name(O.UPSAMPLE)
BACKBONE_KEYS: dict[str, dict[str, Type]] = {
    "unet": {
        "channels": Type("channels"), "levels": _POS_INT, "blocks": Type("blocks"),
        "decoder": Type("blocks"), "bridge": Type("block"), "gate": _BOOL,
        "downsample": _DOWN, "upsample": _UP, "downsample_depth": _BOOL,
        "downsample_norm": _DOWN_NORM, "drop_path_rate": _PROB, "deep_supervision": _BOOL,
    },
    "hrnet": {
        "channels": Type("channels"), "levels": _POS_INT, "blocks": Type("blocks"),
        "fusion": Type("block"), "downsample": _DOWN, "upsample": _UP,
        "downsample_depth": _BOOL, "downsample_norm": _DOWN_NORM, "drop_path_rate": _PROB,
    },
    "soanet": {
        "channels": Type("channels"), "stages": Type("blocks"),
        "downsample": Type("downsample", options=tuple(O.DOWNSAMPLE)),
        "downsample_depth": _BOOL, "downsample_norm": _DOWN_NORM, "drop_path_rate": _PROB,
        "final_downsample": _BOOL, "outputs": _name(O.SOANET_OUTPUTS),
        "output_norm": _name(O.OUTPUT_NORMS),
    },
}  # fmt: skip
HEAD_KEYS: dict[str, dict[str, Type]] = {
    "conv": {"out_channels": _POS_INT, "per_output": _BOOL, "upsample": _BOOL},
    "classify": {
        "classes": _POS_INT,
        "per_output": _BOOL,
        "norm": _name(O.HEAD_NORMS),
        "norm_eps": _EPS,
        "pool": _name(O.POOLS),
    },
}
#: backbone kind -> the nested entry it takes ("level N { ... }" or "stage N { ... }")
LEVEL_ENTRY: dict[str, str] = {"unet": "level", "hrnet": "level", "soanet": "stage"}

DEFAULT_CHANNELS = 32  # an int C doubles per halving; the default C
DEFAULT_LEVELS = 2
DEFAULT_BLOCK = "T1L1G1"

# ---------------------------------------------------------------------------- limits
MAX_CELLS = 4096  # cells in a network
MAX_REPEAT = 1000  # a repetition count
MAX_GROUP_DEPTH = 16  # nested groups in a block string
MAX_MAGNITUDE = 2**63  # any number in an expression
MAX_OPERATORS = 256  # operators in one expression
MAX_NESTING = 32  # parentheses and lists in one expression
MAX_LEVELS = 62  # levels of a U-Net / HR-Net (2^62 is beyond any input)

RESERVED = frozenset("let input cell stem backbone head level stage true false".split())
MAX_RESAMPLE_STEPS = 16_384  # single x2 steps of all resamplers of a network
