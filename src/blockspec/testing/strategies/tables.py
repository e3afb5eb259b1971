"""Cell codes, the oracle tables of the language, override tables and argument checks.

Written from LANGUAGE.md and SEMANTICS.md alone (never from the compiler), so tests can hold
the compiler against them; `tests/test_language_table.py` compares them with the language table.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from hypothesis.errors import InvalidArgument

CODES_2D = ("L1", "L0", "G1", "G0", "V2", "C2")
CODES_T = ("T1", "T0", "F1", "F0")
CODES_3D = ("L3", "G3", "V3", "S3", "Sh", "C3")
ALL_CODES = CODES_2D + CODES_T + CODES_3D

_FAMILY = {
    "L1": "L", "L0": "L", "G1": "G", "G0": "G", "T1": "T", "T0": "T", "F1": "T", "F0": "T",
    "L3": "L3", "G3": "G3", "V2": "V2", "V3": "V3", "S3": "S3", "Sh": "Sh", "C2": "C2",
    "C3": "C3",
}  # fmt: skip
_ATTN = frozenset({"L", "G", "T", "L3", "G3", "V2", "V3", "S3", "Sh"})
_WINDOWED = frozenset({"L", "G", "L3", "G3", "V2", "V3", "S3", "Sh"})
_PATCHED = frozenset({"L", "G", "L3", "G3"})
_THREE_D = frozenset({"L3", "G3", "V3", "S3", "Sh", "C3"})
_SIZE_TABLES = frozenset({"G", "G3", "V2", "V3"})
_ACTIVATIONS = ("elu", "relu", "leakyrelu", "prelu", "relu6", "selu", "celu", "gelu", "gelu_erf")
_PER_FRAME_NORMS = ("instance2d", "channel_layer", "layer")
_NORMS = ("instance2d", "channel_layer", "batch2d", "batch3d", "instance3d", "layer")
_BOOLS = ("true", "false")

_ANY = None  # an override that applies to every family

#: key -> (families it applies to, literal texts); safe for any cell in any network
_GENERIC_OVERRIDES: dict[str, tuple[frozenset[str] | None, tuple[str, ...]]] = {
    "heads": (_ATTN, ("1",)),
    "dropout": (_ANY, ("0.0", "0.1", "0.25")),
    "att_dropout": (_ATTN, ("0.0", "0.1")),
    "activation": (_ANY, _ACTIVATIONS),
    "mixer_ratio": (_ANY, ("1.0", "2", "0.5")),
    "layout": (_ANY, ("sequential", "parallel")),
    "cosine": (_ATTN, _BOOLS),
    "normalize_qk": (_ATTN, _BOOLS),
    "out_proj": (_ATTN, _BOOLS),
    "rel_pos_bias": (_WINDOWED, ("false",)),
    "attention": (_WINDOWED, ("conv", "lin")),
    "mixer": (_WINDOWED, ("conv", "lin")),  # T, C2, C3 always use the conv mixer
    "norm": (_ANY, ("instance2d", "channel_layer")),
    "causal": (frozenset({"T"}), _BOOLS),
    "temporal_stride": (frozenset({"T"}), ("[1, 1]",)),
    "norm_eps": (_ANY, ("1e-6", "0.001")),
    "qkv_bias": (_ATTN, _BOOLS),
}

_Overrides = Mapping[str, tuple[frozenset[str] | None, Sequence[str]]]


def _check_bounds(name_lo: str, lo: int, name_hi: str, hi: int, least: int) -> None:
    for name, v in ((name_lo, lo), (name_hi, hi)):
        if not isinstance(v, int) or isinstance(v, bool):
            raise InvalidArgument(f"{name}={v!r} must be an int")
    if lo < least:
        raise InvalidArgument(f"{name_lo}={lo} must be at least {least}")
    if hi < lo:
        raise InvalidArgument(f"{name_hi}={hi} must be at least {name_lo}={lo}")


def _check_codes(codes: Sequence[str] | None) -> tuple[str, ...]:
    if codes is None:
        return ALL_CODES
    codes = tuple(codes)
    if not codes:
        raise InvalidArgument("codes must name at least one cell code")
    bad = [c for c in codes if c not in _FAMILY]
    if bad:
        raise InvalidArgument(f"unknown cell codes {bad}; valid codes: {', '.join(ALL_CODES)}")
    return codes


def _divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]
