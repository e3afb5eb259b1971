"""Hypothesis strategies for blockspec: block strings, valid specs, near misses, mutations.

Every strategy builds text from the language definition (LANGUAGE.md, SEMANTICS.md) alone;
none of them calls the compiler, so tests can hold the compiler against them:

- `cells()` / `block_strings()`: valid block strings (codes, groups, repetition, overrides).
- `specs()`: valid spec texts (`SpecText`), tiny enough that a forward pass takes milliseconds.
- `near_miss_specs()`: a valid spec with exactly one defect and where the error must point
  (`NearMiss`).
- `mutated_texts()`: token- and byte-level mutations of valid specs (mostly invalid).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from math import gcd

from hypothesis import assume
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from ..errors import ShapeError, SpecError, SpecSyntaxError, SpecValueError

__all__ = [
    "ALL_CODES",
    "CODES_2D",
    "CODES_3D",
    "CODES_T",
    "NearMiss",
    "SpecText",
    "block_strings",
    "cells",
    "commented_specs",
    "mutated_texts",
    "near_miss_specs",
    "specs",
]

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


# ----------------------------------------------------------------------------- block strings
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


# ----------------------------------------------------------------------------- valid specs
@dataclass(frozen=True)
class SpecText:
    """A valid spec text and what it was built from.

    `size` is the input ``(D, H, W)`` with None on a dynamic (``?``) axis; `features` are
    short tags (``"stem"``, ``"head:conv"``, ``"sizing:mixed"`` ...) for statistics.
    """

    text: str
    backbone: str
    dims: str
    dynamic: bool
    size: tuple[int | None, int | None, int | None]
    channels: int
    codes: tuple[str, ...] = ()
    features: frozenset[str] = field(default_factory=frozenset)

    def __str__(self) -> str:
        return self.text


def _divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


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


@dataclass
class _Plan:
    """Everything `specs()` decided, before the text is written."""

    backbone: str
    dims: str
    n_levels: int  # unet/hrnet levels, soanet stages
    n_down: int  # halvings of H, W between the first and the deepest map
    depth: bool
    halvings: list[int]  # per level-entry index (unet: 0..L, L = bridge)
    chans: list[int]  # per level / stage
    heads: int


def _level_channels(plan: _Plan, i: int) -> set[int]:
    c = plan.chans
    if plan.backbone == "unet":
        if i == plan.n_levels:
            return {c[-1]}
        return {c[i], c[i - 1] if i > 0 else c[0]}
    return {c[i]}


def _cell_estimate(
    code: str, c_in: int, c_out: int, ratio: float, tok: int, lin: tuple[bool, bool]
) -> int:
    """A rough upper bound of a cell's parameters (only to keep examples small)."""
    k = 27 if _FAMILY[code] in _THREE_D else 9
    t = tok if lin[0] else 1
    core = 4 * k * c_in * c_out + 4 * (c_in * t) * (c_out * t)
    mixer = 2 * c_out * max(1, int(ratio * c_out)) * max(9, (tok * tok) if lin[1] else 9)
    return core + mixer + k * c_in * c_out


@st.composite
def _specs(
    draw,
    backbone: str | None,
    dims: str | None,
    dynamic: bool,
    max_params: int,
    max_cells: int,
) -> SpecText:
    backbone = backbone or draw(st.sampled_from(("soanet", "unet", "hrnet")))
    dims = dims or draw(st.sampled_from(("2d", "2d+t", "3d")))
    feats: set[str] = {f"backbone:{backbone}", f"dims:{dims}"}
    max_down = 2 if dynamic else 3

    # ---- structure: levels and halvings
    down_text = None
    if backbone == "soanet":
        n_levels = draw(st.integers(1, 3))
        down_text = draw(st.sampled_from((None, "true", "false", "interpolate", "stride", "merge")))
        down_on = down_text != "false"
        n_down = min(n_levels - 1, max_down) if down_on else 0
        n_levels = n_down + 1 if down_on else n_levels
        halvings = [s if down_on else 0 for s in range(n_levels)]
    elif backbone == "unet":
        n_levels = draw(st.integers(1, max_down))
        n_down = n_levels
        halvings = list(range(n_levels + 1))
        down_text = draw(st.sampled_from((None, "interpolate", "stride", "merge")))
    else:
        n_levels = draw(st.integers(1, max_down + 1))
        n_down = n_levels - 1
        halvings = list(range(n_levels))
        down_text = draw(st.sampled_from((None, "interpolate", "stride", "merge")))
    if down_text:
        feats.add(f"downsample:{down_text}")
    feats.add(f"halvings:{n_down}")
    depth = dims == "3d" and n_down >= 1 and n_down <= 2 and draw(st.booleans())
    if depth:
        feats.add("downsample_depth")

    # ---- sizing rule and sizes (backbone input; the stem multiplies them)
    rule = draw(st.sampled_from(("keep_window_size", "mixed", "keep_num_window", None)))
    rule_name = rule or "mixed"
    feats.add(f"sizing:{rule_name}")
    dyn_axes: tuple[bool, bool] = (False, False)
    if dynamic:
        dyn_axes = draw(st.sampled_from(((True, False), (False, True), (True, True))))
        feats.add("dynamic")
    bases = (2, 4, 3, 6) if rule_name == "keep_window_size" else (2, 4)
    hb = draw(st.sampled_from(bases))
    wb = draw(st.sampled_from(bases))
    if dims == "2d":
        d_min = 1
    elif dims == "2d+t":
        d_min = draw(st.integers(2, 4))
    elif depth:
        d_min = 2
    else:
        d_min = draw(st.integers(1, 4))
    maps_h = [hb * 2 ** (n_down - k) for k in range(n_down + 1)]
    maps_w = [wb * 2 ** (n_down - k) for k in range(n_down + 1)]
    maps_d = [d_min * 2 ** (n_down - k) for k in range(n_down + 1)] if depth else [d_min]

    # ---- codes
    if dims == "2d":
        codes = CODES_2D + ("T1", "F0")
    elif dims == "2d+t":
        codes = CODES_2D + CODES_T
    else:
        codes = CODES_3D
    codes = tuple(draw(st.lists(st.sampled_from(codes), min_size=1, max_size=4, unique=True)))
    fams = {_FAMILY[c] for c in codes}

    # ---- windows and patches in cell {}
    def pick_pair(maps: list[int], dyn: bool, sized: bool) -> tuple[int, int]:
        if dyn:
            w = draw(st.sampled_from((1, 2, 4)))
            return w, draw(st.sampled_from(_divisors(w)))
        pairs = _valid_pairs(maps, rule_name, sized)
        pairs = [(w, p) for w, p in pairs if w <= 2 * maps[0] and w <= 32]
        return draw(st.sampled_from(pairs))

    wh, ph = pick_pair(maps_h, dyn_axes[0], True)
    ww, pw = pick_pair(maps_w, dyn_axes[1], True)
    wd, pd = pick_pair(maps_d, False, depth)
    if not depth and d_min % wd:  # D is not clamped unless the backbone halves it
        wd, pd = 1, 1
    write_window = True
    if (
        not dynamic
        and wd == 1
        and all(m & (m - 1) == 0 for m in maps_h + maps_w)
        and draw(st.booleans())
    ):
        write_window = False  # the default [16, 16, 1] / [2, 2, 1] fits power-of-2 maps
        wh, ww, wd, ph, pw, pd = 16, 16, 1, 2, 2, 1
        feats.add("default_window")

    # ---- channels and heads
    heads = draw(st.sampled_from((1, 2, 4)))
    grow = backbone != "soanet" or (down_text != "false")
    if draw(st.booleans()):
        top = 32 if n_levels <= 2 else 64
        choices = [c for c in (4, 8, 12, 16) if c % heads == 0]
        c0 = draw(st.sampled_from(choices))
        while c0 * 2 ** (max(halvings) if grow else 0) > top and c0 > heads:
            c0 //= 2
        c0 = max(c0 - c0 % heads, heads)
        if backbone == "soanet":
            chans = [c0 * 2 ** halvings[s] for s in range(n_levels)]
        else:
            chans = [c0 * 2**l for l in range(n_levels)]
        chan_text = str(c0)
        feats.add("channels:int")
    else:
        mults = [m for m in range(heads, 17, heads) if m >= 2]
        chans = draw(st.lists(st.sampled_from(mults), min_size=n_levels, max_size=n_levels))
        chan_text = "[" + ", ".join(map(str, chans)) + "]"
        feats.add("channels:list")
    plan = _Plan(backbone, dims, n_levels, n_down, depth, halvings, chans, heads)

    # ---- cell {} entries
    causal = dims == "2d+t" and draw(st.booleans())
    norms = _PER_FRAME_NORMS if causal else _NORMS
    if dynamic:
        norms = tuple(n for n in norms if n != "layer")
    even_h = dyn_axes[0] or hb % 2 == 0
    even_w = dyn_axes[1] or wb % 2 == 0
    entries: list[str] = []

    def opt(key: str, values: Sequence[str]) -> None:
        if draw(st.booleans()):
            entries.append(f"{key} = {draw(st.sampled_from(tuple(values)))}")

    if write_window:
        entries.append(f"window = [{wh}, {ww}, {wd}]")
        entries.append(f"patch = [{ph}, {pw}, {pd}]")
    if rule is not None:
        entries.append(f"window_sizing = {rule}")
    entries.append(f"heads = {heads}")
    norm = draw(st.sampled_from(norms))
    if norm != "instance2d" or draw(st.booleans()):
        entries.append(f"norm = {norm}")
    feats.add(f"norm:{norm}")
    if causal:
        entries.append("causal = true")
        feats.add("causal")
    if dynamic:
        entries.append("rel_pos_bias = false")
    else:
        opt("rel_pos_bias", _BOOLS)
    opt("attention", ("conv", "lin"))
    opt("mixer", ("conv", "lin"))
    opt("mixer_ratio", ("0.5", "1.0", "2.0"))
    opt("activation", _ACTIVATIONS)
    opt("cosine", _BOOLS)
    opt("normalize_qk", _BOOLS)
    opt("out_proj", _BOOLS)
    opt("att_dropout", ("0.0", "0.1"))
    opt("dropout", ("0.0", "0.1", "0.2"))
    opt("layout", ("sequential", "parallel"))
    opt("dense", _BOOLS)
    opt("checkpoint", _BOOLS)
    if "T" in fams:
        strides = [
            f"[{a}, {b}]" for a in (1, 2) if a == 1 or even_h for b in (1, 2) if b == 1 or even_w
        ]
        opt("temporal_stride", strides)
    for e in entries:
        feats.add("key:" + e.split(" ", 1)[0])
    ratio = 4.0
    for e in entries:
        if e.startswith("mixer_ratio"):
            ratio = float(e.split("=")[1])

    # ---- per-cell overrides valid anywhere in this network
    ov: dict[str, tuple[frozenset[str] | None, Sequence[str]]] = {
        "heads": (_ATTN, tuple(str(d) for d in _divisors(heads))),
        "dropout": (_ANY, ("0.0", "0.3")),
        "activation": (_ANY, _ACTIVATIONS),
        "layout": (_ANY, ("sequential", "parallel")),
        "cosine": (_ATTN, _BOOLS),
        "out_proj": (_ATTN, _BOOLS),
        "rel_pos_bias": (_WINDOWED, ("false",) if dynamic else _BOOLS),
        "attention": (_WINDOWED - {"V2", "V3"}, ("conv", "lin")),  # lin V is window-sized
        "mixer": (_WINDOWED - {"V2", "V3"}, ("conv", "lin")),
        "norm": (_ANY, norms),
    }
    if dims == "2d+t":
        ov["causal"] = (
            frozenset({"T"}),
            _BOOLS if set(norms) <= set(_PER_FRAME_NORMS) else ("false",),
        )
    if rule_name == "keep_window_size" and not dynamic:
        # windows dividing the smallest map divide every map (maps are it times 2^k)
        small_d = maps_d[-1]
        wins = [
            f"[{a}, {b}, {c}]"
            for a in _divisors(maps_h[-1])
            for b in _divisors(maps_w[-1])
            for c in _divisors(small_d)
            if a % ph == 0 and b % pw == 0 and c % pd == 0
        ]
        ov["window"] = (_WINDOWED - _PATCHED, wins[:12])
    ov_block = ov

    # ---- block strings
    n_strings = {"soanet": n_levels, "unet": n_levels, "hrnet": n_levels}[backbone]
    per_block = max(1, min(3, max_cells // max(1, n_strings + (1 if backbone == "unet" else 0))))
    used_codes: list[str] = []

    block_codes: dict[str, list[str]] = {}

    def block() -> str:
        text, got = draw(_block(1, per_block, codes, ov_block))
        used_codes.extend(got)
        block_codes[text] = got
        return text

    def lin_flags(code: str) -> tuple[bool, bool]:
        if _FAMILY[code] in ("V2", "V3"):
            return ("attention = lin" in entries, "mixer = lin" in entries)
        return (True, True)  # block-string overrides may switch other families to lin

    def tok(code: str) -> int:
        fam = _FAMILY[code]
        if fam in ("V2", "V3"):
            return wh * ww * (wd if fam == "V3" else 1)
        return ph * pw * (pd if fam in _THREE_D else 1) if fam in _PATCHED else 1

    def qlist(items: list[str]) -> str:
        return "[" + ", ".join(f'"{b}"' for b in items) + "]"

    bb: list[str] = []
    sub: list[str] = []
    lk = "stage" if backbone == "soanet" else "level"
    n_entries = n_levels + (1 if backbone == "unet" else 0)
    if backbone == "soanet":
        stages = [block() for _ in range(n_levels)]
        bb.append(f"channels = {chan_text}")
        bb.append(f"stages = {qlist(stages)}")
        if down_text is not None:
            bb.append(f"downsample = {down_text}")
        blocks_by_level = stages
    else:
        k = draw(st.integers(1, n_levels))
        blocks = [block() for _ in range(k)]
        blocks_by_level = blocks + [blocks[-1]] * (n_levels - k)
        bb.append(f"channels = {chan_text}")
        bb.append(f"levels = {n_levels}")
        bb.append(f"blocks = {qlist(blocks)}")
        if down_text is not None:
            bb.append(f"downsample = {down_text}")
        if draw(st.booleans()):
            bb.append(f"upsample = {draw(st.sampled_from(('linear', 'nearest')))}")
        if backbone == "unet":
            if draw(st.booleans()):
                decoder = [block() for _ in range(draw(st.integers(1, n_levels)))]
                bb.append(f"decoder = {qlist(decoder)}")
                blocks_by_level += decoder
            if draw(st.booleans()):
                bridge = block()
                bb.append(f'bridge = "{bridge}"')
                blocks_by_level.append(bridge)
            else:
                blocks_by_level.append(blocks_by_level[n_levels - 1])
            opt_gate = draw(st.sampled_from((None, "true", "false")))
            if opt_gate:
                bb.append(f"gate = {opt_gate}")
                feats.add(f"gate:{opt_gate}")
        elif draw(st.booleans()):
            fusion = block()
            bb.append(f'fusion = "{fusion}"')
            blocks_by_level.append(fusion)
    if depth:
        bb.append("downsample_depth = true")

    # ---- level / stage entries (used as written: they must divide that level's map)
    for i in sorted(set(draw(st.lists(st.integers(0, n_entries - 1), max_size=2)))):
        k = halvings[i]
        items = []
        lvl_ch = _level_channels(plan, i)
        g = 0
        for c in lvl_ch:
            g = gcd(g, c)
        if draw(st.booleans()):
            items.append(f"heads = {draw(st.sampled_from(_divisors(g)))}")
        if draw(st.booleans()):
            mh = maps_h[k]
            mw = maps_w[k]
            md = maps_d[k] if depth else d_min
            lw_h = (
                draw(st.sampled_from((1, 2, 4)))
                if dyn_axes[0]
                else draw(st.sampled_from(_divisors(mh)))
            )
            lw_w = (
                draw(st.sampled_from((1, 2, 4)))
                if dyn_axes[1]
                else draw(st.sampled_from(_divisors(mw)))
            )
            lw_d = draw(st.sampled_from(_divisors(md)))
            lp = [draw(st.sampled_from(_divisors(x))) for x in (lw_h, lw_w, lw_d)]
            items.append(f"window = [{lw_h}, {lw_w}, {lw_d}]")
            items.append(f"patch = [{lp[0]}, {lp[1]}, {lp[2]}]")
            feats.add("level_window")
        if draw(st.booleans()):
            items.append(f"dropout = {draw(st.sampled_from(('0.0', '0.05')))}")
        if items:
            sep = draw(st.sampled_from(("; ", ", ")))
            sub.append(f"{lk} {i} {{ {sep.join(items)} }}")
            feats.add("level_entry")

    # ---- stem, head, input
    stem = None
    c_in = draw(st.integers(1, 3))
    sp_h = sp_w = 1
    if draw(st.booleans()):
        sp_h, sp_w = draw(st.sampled_from((1, 2))), draw(st.sampled_from((1, 2)))
        s_ch = draw(st.sampled_from((2, 4, 8)))
        s_norms = ["none", "channel_layer", "instance2d", "batch2d"] + (
            [] if dynamic else ["layer"]
        )
        s_norm = draw(st.sampled_from(s_norms))
        parts = [f"patch = [{sp_h}, {sp_w}, 1]", f"channels = {s_ch}"]
        if s_norm != "none" or draw(st.booleans()):
            parts.append(f"norm = {s_norm}")
        stem = "stem { " + ", ".join(parts) + " }"
        feats.add("stem")
    head = None
    hk = draw(st.sampled_from((None, "conv", "classify")))
    if hk == "conv":
        head = f"head conv {{ out_channels = {draw(st.integers(1, 3))} }}"
    elif hk == "classify":
        head = f"head classify {{ classes = {draw(st.integers(2, 4))} }}"
    if hk:
        feats.add(f"head:{hk}")
    D = maps_d[0] if depth else d_min
    H = None if dyn_axes[0] else maps_h[0] * sp_h
    W = None if dyn_axes[1] else maps_w[0] * sp_w
    size_txt = ["?" if v is None else str(v) for v in (H, W)]

    # ---- keep it small: a rough estimate, at most `max_params`
    est = 0
    for i, text in enumerate(blocks_by_level):
        lvl = min(i, len(chans) - 1)
        c = max(chans[lvl], chans[min(lvl + 1, len(chans) - 1)])
        est += sum(
            _cell_estimate(code, 2 * c, c, ratio, tok(code), lin_flags(code))
            for code in block_codes[text]
        )
    assume(est <= max_params)
    assume(len(used_codes) <= max_cells * 2)

    # ---- layout: lets, separators, section order
    lets: list[str] = []
    if draw(st.booleans()) and chan_text.isdigit():
        lets.append(f"let C = {chan_text}")
        bb[0] = "channels = C"
        feats.add("let")

    def section(head_text: str, items: list[str]) -> str:
        sep = draw(st.sampled_from((", ", "\n  ", "; ", ",\n  ")))
        if "\n" in sep:
            return f"{head_text} {{\n  " + sep.join(items) + "\n}"
        return f"{head_text} {{ " + sep.join(items) + " }"

    inp = section(
        "input", [f"channels = {c_in}", f"D = {D}", f"H = {size_txt[0]}", f"W = {size_txt[1]}"]
    )
    sections = [inp, section("cell", entries), section(f"backbone {backbone}", bb + sub)]
    if stem:
        sections.append(stem)
    if head:
        sections.append(head)
    order = draw(st.permutations(range(len(sections))))
    body = [sections[i] for i in order]
    text = "\n".join(lets + body) + "\n"
    return SpecText(
        text=text,
        backbone=backbone,
        dims=dims,
        dynamic=dynamic,
        size=(D, H, W),
        channels=c_in,
        codes=tuple(used_codes),
        features=frozenset(feats),
    )


def specs(
    *,
    backbone: str | None = None,
    dims: str | None = None,
    dynamic: bool = False,
    max_params: int = 250_000,
    max_cells: int = 8,
) -> st.SearchStrategy[SpecText]:
    """Valid spec texts, by construction, tiny enough for a forward pass in milliseconds.

    `backbone` is "unet", "hrnet", "soanet" or None (any); `dims` is "2d" (D = 1), "2d+t"
    (D > 1, 2D families and T) or "3d" (3D families, with or without downsample_depth) or None;
    `dynamic` writes `?` for H and/or W. `max_params` bounds a rough estimate of the size;
    `max_cells` bounds the cells per network (roughly: blocks share it).
    """
    if backbone not in (None, "unet", "hrnet", "soanet"):
        raise InvalidArgument(f"backbone={backbone!r} must be 'unet', 'hrnet', 'soanet' or None")
    if dims not in (None, "2d", "2d+t", "3d"):
        raise InvalidArgument(f"dims={dims!r} must be '2d', '2d+t', '3d' or None")
    if not isinstance(dynamic, bool):
        raise InvalidArgument(f"dynamic={dynamic!r} must be a bool")
    if not isinstance(max_params, int) or max_params < 10_000:
        raise InvalidArgument(f"max_params={max_params!r} must be an int >= 10000")
    if not isinstance(max_cells, int) or max_cells < 1:
        raise InvalidArgument(f"max_cells={max_cells!r} must be an int >= 1")
    return _specs(backbone, dims, dynamic, max_params, max_cells)


# ----------------------------------------------------------------------------- near misses
_MARK = "\x00"  # where the error must point; removed from the final text


@dataclass(frozen=True)
class NearMiss:
    """A spec with exactly one defect: the error class and the 1-based line and column.

    Iterating gives ``(text, error, line, column)``; `kind` names the defect.
    """

    text: str
    error: type[SpecError]
    line: int
    column: int
    kind: str

    def __iter__(self):
        return iter((self.text, self.error, self.line, self.column))


def _locate(text: str) -> tuple[str, int, int]:
    """Remove the marker; return the text and the marker's line and column (1-based)."""
    i = text.index(_MARK)
    line = text.count("\n", 0, i) + 1
    column = i - (text.rfind("\n", 0, i) + 1) + 1
    return text.replace(_MARK, ""), line, column


NEAR_MISS_KINDS = (
    "window", "default_window", "heads", "heads_zero", "unknown_key", "duplicate_key",
    "unknown_code", "too_many_levels", "negative_dropout", "att_dropout_one", "causal_batch2d",
    "dynamic_G1", "int_div", "unknown_override", "unknown_norm", "stage_out_of_range",
    "block_level_override", "duplicate_section", "missing_input_channels", "syntax_double_eq",
    "override_not_applicable", "deep_window", "level_window", "empty_channels",
)  # fmt: skip


@st.composite
def _near_miss(draw, kinds: Sequence[str]) -> NearMiss:
    kind = draw(st.sampled_from(tuple(kinds)))
    M = _MARK
    H = W = draw(st.sampled_from((8, 16)))
    D = 1
    C = draw(st.sampled_from((4, 8)))
    heads = draw(st.sampled_from((1, 2)))
    w = draw(st.sampled_from((2, 4)))
    p = draw(st.sampled_from(_divisors(w)))
    codes = ["L1", "G1", "C2"]
    if kind == "causal_batch2d":
        D = draw(st.integers(2, 4))
        codes = ["T1", "L1", "C2"]
    elif kind == "dynamic_G1":
        codes = ["L1", "C2"]  # the marked G1 is the only size-biased cell
    lets: list[str] = []
    inp = {"channels": "1", "D": str(D), "H": str(H), "W": str(W)}
    cell = {
        "window": f"[{w}, {w}, 1]",
        "patch": f"[{p}, {p}, 1]",
        "window_sizing": "keep_window_size",
        "heads": str(heads),
    }
    if draw(st.booleans()):
        cell["dropout"] = "0.1"
    backbone = draw(st.sampled_from(("soanet", "unet")))
    n = draw(st.integers(1, 2))
    blocks = [
        "".join(draw(st.lists(st.sampled_from(codes), min_size=1, max_size=3))) for _ in range(n)
    ]
    blocks[0] = ("T1" if kind == "causal_batch2d" else "L1") + blocks[0]
    extra_bb: list[str] = []
    extra_sections: list[str] = []
    if draw(st.booleans()):
        extra_sections.append("head conv { out_channels = 1 }")
    error: type[SpecError] = SpecValueError

    if kind == "window":
        bad = draw(st.sampled_from([x for x in (3, 5, 6, 7) if H % x]))
        cell["window"] = f"{M}[{bad}, {w}, 1]" if draw(st.booleans()) else f"{M}[{w}, {bad}, 1]"
        cell["patch"] = "[1, 1, 1]"
        error = ShapeError
    elif kind == "deep_window":  # divides level 0 (12) but not level 1 (6)
        backbone = "unet"
        H = 12
        inp["H"] = "12"
        cell["window"] = f"{M}[4, {w}, 1]"
        blocks = ["L1" + b for b in blocks]  # level 1 has a windowed cell
        cell["patch"] = f"[1, {p}, 1]"
        error = ShapeError
    elif kind == "level_window":  # a level entry's window is used as written
        backbone = "unet"
        lvl = draw(st.integers(0, n - 1))
        blocks = ["L1" + b for b in blocks]  # every level has a windowed cell
        bad = draw(st.sampled_from((3, 5, 6)))
        extra_bb.append(f"level {lvl} {{ window = {M}[{bad}, {bad}, 1], patch = [1, 1, 1] }}")
        error = ShapeError
    elif kind == "default_window":
        for k in ("window", "patch", "window_sizing"):
            del cell[k]
        bad = draw(st.sampled_from((24, 40, 56)))  # not multiples of 16
        axis = draw(st.sampled_from(("H", "W")))
        inp[axis] = f"{M}{bad}"
        backbone, n = "soanet", 1
        error = ShapeError
    elif kind == "heads":
        cell["heads"] = M + str(draw(st.sampled_from((3, 5, 7))))
        error = ShapeError
    elif kind == "heads_zero":
        cell["heads"] = M + "0"
    elif kind == "unknown_key":
        cell[M + draw(st.sampled_from(("colour", "head", "windows", "drop")))] = "1"
    elif kind == "duplicate_key":
        key = draw(st.sampled_from(sorted(cell)))
        cell[M + key] = cell[key]
    elif kind == "unknown_code":
        bad = draw(st.sampled_from(("X1", "L2", "Q3", "Tx")))
        blocks[0] = blocks[0] + M + bad
    elif kind == "too_many_levels":
        backbone = "unet"
        k = H.bit_length() - 1  # H = 2^k: k levels leave a 1x1 bridge
        n = k + draw(st.integers(0, 2))
        blocks = ["C2"]
        error = ShapeError
    elif kind == "negative_dropout":
        cell["dropout"] = M + draw(st.sampled_from(("-0.1", "-1", "-0.5")))
    elif kind == "att_dropout_one":
        cell["att_dropout"] = M + draw(st.sampled_from(("1.0", "1", "2.5")))
    elif kind == "causal_batch2d":
        cell["norm"] = M + draw(st.sampled_from(("batch2d", "batch3d", "instance3d")))
        cell["causal"] = "true"
    elif kind == "dynamic_G1":
        inp["H"] = "?"
        blocks[0] = blocks[0] + M + "G1"
        error = ShapeError
    elif kind == "int_div":
        lets.append("let C = " + str(2 * C))
        C_text = M + "C / 2"
    elif kind == "unknown_override":
        key = draw(st.sampled_from(("colour", "head", "dense_", "wndow")))
        blocks[0] = blocks[0] + f"L1({M}{key}=2)"
    elif kind == "unknown_norm":
        cell["norm"] = M + draw(st.sampled_from(("batchnorm", "layernorm", "instance")))
    elif kind == "stage_out_of_range":
        extra_bb.append(
            f"{'stage' if backbone == 'soanet' else 'level'} {M}{n + 1} {{ heads = 1 }}"
        )
    elif kind == "block_level_override":
        key = draw(st.sampled_from(("dense", "checkpoint")))
        blocks[0] = blocks[0] + f"L1({M}{key}=true)"
    elif kind == "duplicate_section":
        extra_sections = ["head conv { out_channels = 1 }", f"{M}head conv {{ out_channels = 2 }}"]
    elif kind == "missing_input_channels":
        del inp["channels"]
    elif kind == "syntax_double_eq":
        cell["heads"] = f"{M}= {heads}"
        error = SpecSyntaxError
    elif kind == "override_not_applicable":
        code, key, val = draw(
            st.sampled_from(
                (("C2", "heads", "1"), ("C2", "window", "[2,2,1]"), ("L1", "causal", "true"))
            )
        )
        blocks[0] = blocks[0] + f"{code}({M}{key}={val})"
    elif kind in ("empty_channels", "int_div"):
        pass  # written with the backbone's channels below
    else:  # pragma: no cover - guarded by near_miss_specs
        raise InvalidArgument(f"unknown near-miss kind {kind!r}")

    if kind == "empty_channels":
        C_text = M + "[]"
    elif kind != "int_div":
        if draw(st.booleans()):
            lets.append(f"let C = {C}")
            C_text = "C"
        else:
            C_text = str(C)
    if backbone == "soanet":
        bb = [f"channels = {C_text}", "stages = [" + ", ".join(f'"{b}"' for b in blocks) + "]"]
    else:
        bb = [
            f"channels = {C_text}",
            f"levels = {M if kind == 'too_many_levels' else ''}{n}",
            "blocks = [" + ", ".join(f'"{b}"' for b in blocks) + "]",
        ]

    def render(head_text: str, items: list[str], close_mark: bool = False) -> str:
        items = list(draw(st.permutations(items)))
        if kind == "duplicate_key":  # the second occurrence is the error
            items.sort(key=lambda it: M in it)
        sep = draw(st.sampled_from((", ", "; ", "\n  ", ",\n  ")))
        close = (M if close_mark else "") + "}"
        if "\n" in sep:
            return f"{head_text} {{\n  " + sep.join(items) + "\n" + close
        return f"{head_text} {{ " + sep.join(items) + " " + close

    sections = [
        render(
            "input",
            [f"{k} = {v}" for k, v in inp.items()],
            close_mark=kind == "missing_input_channels",
        ),
        render("cell", [f"{k} = {v}" for k, v in cell.items()]),
        render(f"backbone {backbone}", bb + extra_bb),
    ]
    order = list(draw(st.permutations(range(len(sections)))))
    body = [sections[i] for i in order] + extra_sections
    comment = draw(st.sampled_from(("", "# a near miss\n", "\n")))
    text = comment + "\n".join(lets + body) + "\n"
    text, line, column = _locate(text)
    return NearMiss(text, error, line, column, kind)


def near_miss_specs(*, kinds: Sequence[str] | None = None) -> st.SearchStrategy[NearMiss]:
    """A valid spec with exactly one defect, as a `NearMiss` (text, error, line, column).

    The expected place is computed from how the text was built, never from the compiler.
    `kinds` restricts the defects (see `NEAR_MISS_KINDS`).
    """
    chosen = tuple(NEAR_MISS_KINDS if kinds is None else kinds)
    bad = [k for k in chosen if k not in NEAR_MISS_KINDS]
    if bad or not chosen:
        raise InvalidArgument(f"kinds={list(chosen)!r}: choose from {', '.join(NEAR_MISS_KINDS)}")
    return _near_miss(chosen)


# ----------------------------------------------------------------------------- mutations
_TOKEN = re.compile(
    r'"[^"\n]*"|[A-Za-z_][A-Za-z0-9_]*|[0-9]+(?:\.[0-9]*)?(?:[eE][+-]?[0-9]+)?|\*\*|//|\s+|.',
    re.S,
)
_NOISE = tuple('{}[]()=,;#"?*-+/%.:!@\\\t\r\n 0123456789eE_') + ("é", "\u00a0", "\x00", "🙂")
_WORDS = (
    "let", "input", "cell", "stem", "backbone", "head", "level", "stage", "true", "false",
    "unet", "hrnet", "soanet", "conv", "classify", "L1", "S3Sh", "(", ")", "*", "**", "?",
    "9" * 25, "1e400", "-0", "0.0", "[", "]", '"', '"L1"', "C", "//", "%", "1e-4", "layer",
)  # fmt: skip


@st.composite
def _mutated(draw, base: st.SearchStrategy[SpecText]) -> str:
    text = draw(base).text
    toks = _TOKEN.findall(text)
    for _ in range(draw(st.integers(1, 3))):
        if not toks:
            toks = [""]
        i = draw(st.integers(0, len(toks) - 1))
        op = draw(
            st.sampled_from(
                ("delete", "duplicate", "swap", "insert", "word", "in_string", "truncate")
            )
        )
        if op == "delete":
            del toks[i]
        elif op == "duplicate":
            toks.insert(i, toks[i])
        elif op == "swap":
            j = draw(st.integers(0, len(toks) - 1))
            toks[i], toks[j] = toks[j], toks[i]
        elif op == "insert":
            toks.insert(i, "".join(draw(st.lists(st.sampled_from(_NOISE), min_size=1, max_size=3))))
        elif op == "word":
            toks.insert(i, draw(st.sampled_from(_WORDS)))
        elif op == "in_string":
            strs = [k for k, t in enumerate(toks) if t.startswith('"') and len(t) >= 2]
            if strs:
                k = draw(st.sampled_from(strs))
                s = toks[k]
                j = draw(st.integers(1, len(s) - 1))
                noise = draw(
                    st.sampled_from(("(", ")", "*", "*0", "*1001", "X", " ", "=", "h", ","))
                )
                toks[k] = s[:j] + noise + s[j + draw(st.integers(0, 1)) :]
        else:
            toks = toks[:i]
    return "".join(toks)


def mutated_texts(*, base: st.SearchStrategy[SpecText] | None = None) -> st.SearchStrategy[str]:
    """Token- and byte-level mutations of valid specs: delete, duplicate or swap tokens,
    insert noise or keywords, edit a block string, truncate (mostly invalid texts)."""
    return _mutated(base if base is not None else specs())


@st.composite
def _commented(draw, base: st.SearchStrategy[SpecText]) -> tuple[str, tuple[str, ...]]:
    lines = draw(base).text.split("\n")
    comments: list[str] = []
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, len(lines) - 1))
        c = f"# note {len(comments)}" + draw(st.sampled_from(("", " x = [1, 2]", ' "L1"', " {")))
        comments.append(c)
        if draw(st.booleans()):
            lines.insert(i, draw(st.sampled_from(("", "  "))) + c)  # a line of its own
        else:
            lines[i] = lines[i] + draw(st.sampled_from((" ", "  ", ""))) + c
    return "\n".join(lines), tuple(comments)


def commented_specs(
    *, base: st.SearchStrategy[SpecText] | None = None
) -> st.SearchStrategy[tuple[str, tuple[str, ...]]]:
    """(text, comments): a valid spec with comments at line ends and on lines of their own."""
    return _commented(base if base is not None else specs())
