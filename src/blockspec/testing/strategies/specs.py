"""Valid spec texts (`SpecText`), built by construction from the language definition.

`_specs` draws a spec in steps (structure, sizes, codes and windows, channels, `cell {}`,
then the backbone, its level entries, stem and head, and the layout: see `spec_parts.py`);
the steps share what was decided so far in a `_Draft`. The order of the draws is part of what
the strategy generates: keep it when editing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from hypothesis import assume
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from .sizing import _valid_pairs
from .spec_parts import _draw_backbone, _draw_level_entries, _draw_stem_head, _estimate, _write
from .tables import (
    _ACTIVATIONS,
    _BOOLS,
    _FAMILY,
    _NORMS,
    _PER_FRAME_NORMS,
    CODES_2D,
    CODES_3D,
    CODES_T,
    _divisors,
)


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


@dataclass
class _Draft:
    """Everything `specs()` decided so far, before the text is written (fields by step)."""

    backbone: str
    dims: str
    dynamic: bool
    max_cells: int
    feats: set[str]
    # structure
    n_levels: int = 0  # unet/hrnet levels, soanet stages
    n_down: int = 0  # halvings of H, W between the first and the deepest map
    halvings: list[int] = field(default_factory=list)  # per level-entry (unet: 0..L, L = bridge)
    down_text: str | None = None
    depth: bool = False
    # sizes (backbone input; the stem multiplies them)
    rule: str | None = None
    rule_name: str = "mixed"
    dyn_axes: tuple[bool, bool] = (False, False)
    hb: int = 0
    wb: int = 0
    d_min: int = 1
    maps_h: list[int] = field(default_factory=list)
    maps_w: list[int] = field(default_factory=list)
    maps_d: list[int] = field(default_factory=list)
    # codes, windows and patches in cell {}
    codes: tuple[str, ...] = ()
    fams: set[str] = field(default_factory=set)
    window: tuple[int, int, int] = (16, 16, 1)  # (H, W, D) as in `window = [...]`
    patch: tuple[int, int, int] = (2, 2, 1)
    write_window: bool = True
    # channels and heads
    heads: int = 1
    chans: list[int] = field(default_factory=list)  # per level / stage
    chan_text: str = ""
    # cell {} entries
    norms: tuple[str, ...] = ()
    entries: list[str] = field(default_factory=list)
    ratio: float = 4.0


def _draw_structure(draw, d: _Draft) -> None:
    """Levels and halvings."""
    max_down = 2 if d.dynamic else 3
    down_text = None
    if d.backbone == "soanet":
        n_levels = draw(st.integers(1, 3))
        down_text = draw(st.sampled_from((None, "true", "false", "interpolate", "stride", "merge")))
        down_on = down_text != "false"
        n_down = min(n_levels - 1, max_down) if down_on else 0
        n_levels = n_down + 1 if down_on else n_levels
        halvings = [s if down_on else 0 for s in range(n_levels)]
    elif d.backbone == "unet":
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
        d.feats.add(f"downsample:{down_text}")
    d.feats.add(f"halvings:{n_down}")
    depth = d.dims == "3d" and n_down >= 1 and n_down <= 2 and draw(st.booleans())
    if depth:
        d.feats.add("downsample_depth")
    d.n_levels, d.n_down, d.halvings = n_levels, n_down, halvings
    d.down_text, d.depth = down_text, depth


def _draw_sizes(draw, d: _Draft) -> None:
    """The sizing rule and the map sizes at every halving."""
    d.rule = draw(st.sampled_from(("keep_window_size", "mixed", "keep_num_window", None)))
    d.rule_name = d.rule or "mixed"
    d.feats.add(f"sizing:{d.rule_name}")
    if d.dynamic:
        d.dyn_axes = draw(st.sampled_from(((True, False), (False, True), (True, True))))
        d.feats.add("dynamic")
    bases = (2, 4, 3, 6) if d.rule_name == "keep_window_size" else (2, 4)
    d.hb = draw(st.sampled_from(bases))
    d.wb = draw(st.sampled_from(bases))
    if d.dims == "2d":
        d.d_min = 1
    elif d.dims == "2d+t":
        d.d_min = draw(st.integers(2, 4))
    elif d.depth:
        d.d_min = 2
    else:
        d.d_min = draw(st.integers(1, 4))
    n = d.n_down
    d.maps_h = [d.hb * 2 ** (n - k) for k in range(n + 1)]
    d.maps_w = [d.wb * 2 ** (n - k) for k in range(n + 1)]
    d.maps_d = [d.d_min * 2 ** (n - k) for k in range(n + 1)] if d.depth else [d.d_min]


def _pick_pair(draw, d: _Draft, maps: list[int], dyn: bool, sized: bool) -> tuple[int, int]:
    """A (window, patch) pair for one axis of `cell {}`, valid at every map in `maps`."""
    if dyn:
        w = draw(st.sampled_from((1, 2, 4)))
        return w, draw(st.sampled_from(_divisors(w)))
    pairs = _valid_pairs(maps, d.rule_name, sized)
    pairs = [(w, p) for w, p in pairs if w <= 2 * maps[0] and w <= 32]
    return draw(st.sampled_from(pairs))


def _draw_codes_and_windows(draw, d: _Draft) -> None:
    """The cell codes of the network, then the window and patch of `cell {}`."""
    if d.dims == "2d":
        codes = CODES_2D + ("T1", "F0")
    elif d.dims == "2d+t":
        codes = CODES_2D + CODES_T
    else:
        codes = CODES_3D
    d.codes = tuple(draw(st.lists(st.sampled_from(codes), min_size=1, max_size=4, unique=True)))
    d.fams = {_FAMILY[c] for c in d.codes}

    wh, ph = _pick_pair(draw, d, d.maps_h, d.dyn_axes[0], True)
    ww, pw = _pick_pair(draw, d, d.maps_w, d.dyn_axes[1], True)
    wd, pd = _pick_pair(draw, d, d.maps_d, False, d.depth)
    if not d.depth and d.d_min % wd:  # D is not clamped unless the backbone halves it
        wd, pd = 1, 1
    if (
        not d.dynamic
        and wd == 1
        and all(m & (m - 1) == 0 for m in d.maps_h + d.maps_w)
        and draw(st.booleans())
    ):
        d.write_window = False  # the default [16, 16, 1] / [2, 2, 1] fits power-of-2 maps
        wh, ww, wd, ph, pw, pd = 16, 16, 1, 2, 2, 1
        d.feats.add("default_window")
    d.window, d.patch = (wh, ww, wd), (ph, pw, pd)


def _draw_channels(draw, d: _Draft) -> None:
    """Heads, then the channels per level as one int (doubling) or a list."""
    heads = d.heads = draw(st.sampled_from((1, 2, 4)))
    grow = d.backbone != "soanet" or (d.down_text != "false")
    if draw(st.booleans()):
        top = 32 if d.n_levels <= 2 else 64
        choices = [c for c in (4, 8, 12, 16) if c % heads == 0]
        c0 = draw(st.sampled_from(choices))
        while c0 * 2 ** (max(d.halvings) if grow else 0) > top and c0 > heads:
            c0 //= 2
        c0 = max(c0 - c0 % heads, heads)
        if d.backbone == "soanet":
            d.chans = [c0 * 2 ** d.halvings[s] for s in range(d.n_levels)]
        else:
            d.chans = [c0 * 2**l for l in range(d.n_levels)]
        d.chan_text = str(c0)
        d.feats.add("channels:int")
    else:
        mults = [m for m in range(heads, 17, heads) if m >= 2]
        d.chans = draw(st.lists(st.sampled_from(mults), min_size=d.n_levels, max_size=d.n_levels))
        d.chan_text = "[" + ", ".join(map(str, d.chans)) + "]"
        d.feats.add("channels:list")


def _opt(draw, entries: list[str], key: str, values: Sequence[str]) -> None:
    """Maybe append ``key = value`` with a value drawn from `values`."""
    if draw(st.booleans()):
        entries.append(f"{key} = {draw(st.sampled_from(tuple(values)))}")


def _draw_cell_entries(draw, d: _Draft) -> None:
    """The entries of `cell {}`: window, sizing, heads, norm, then optional keys."""
    causal = d.dims == "2d+t" and draw(st.booleans())
    norms = _PER_FRAME_NORMS if causal else _NORMS
    if d.dynamic:
        norms = tuple(n for n in norms if n != "layer")
    d.norms = norms
    even_h = d.dyn_axes[0] or d.hb % 2 == 0
    even_w = d.dyn_axes[1] or d.wb % 2 == 0
    entries = d.entries

    if d.write_window:
        entries.append("window = [{}, {}, {}]".format(*d.window))
        entries.append("patch = [{}, {}, {}]".format(*d.patch))
    if d.rule is not None:
        entries.append(f"window_sizing = {d.rule}")
    entries.append(f"heads = {d.heads}")
    norm = draw(st.sampled_from(norms))
    if norm != "instance2d" or draw(st.booleans()):
        entries.append(f"norm = {norm}")
    d.feats.add(f"norm:{norm}")
    if causal:
        entries.append("causal = true")
        d.feats.add("causal")
    if d.dynamic:
        entries.append("rel_pos_bias = false")
    else:
        _opt(draw, entries, "rel_pos_bias", _BOOLS)
    for key, values in (
        ("attention", ("conv", "lin")),
        ("mixer", ("conv", "lin")),
        ("mixer_ratio", ("0.5", "1.0", "2.0")),
        ("activation", _ACTIVATIONS),
        ("cosine", _BOOLS),
        ("normalize_qk", _BOOLS),
        ("out_proj", _BOOLS),
        ("att_dropout", ("0.0", "0.1")),
        ("dropout", ("0.0", "0.1", "0.2")),
        ("layout", ("sequential", "parallel")),
        ("dense", _BOOLS),
        ("checkpoint", _BOOLS),
    ):
        _opt(draw, entries, key, values)
    if "T" in d.fams:
        strides = [
            f"[{a}, {b}]" for a in (1, 2) if a == 1 or even_h for b in (1, 2) if b == 1 or even_w
        ]
        _opt(draw, entries, "temporal_stride", strides)
    for e in entries:
        d.feats.add("key:" + e.split(" ", 1)[0])
    for e in entries:
        if e.startswith("mixer_ratio"):
            d.ratio = float(e.split("=")[1])


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
    d = _Draft(backbone, dims, dynamic, max_cells, {f"backbone:{backbone}", f"dims:{dims}"})
    _draw_structure(draw, d)
    _draw_sizes(draw, d)
    _draw_codes_and_windows(draw, d)
    _draw_channels(draw, d)
    _draw_cell_entries(draw, d)
    net = _draw_backbone(draw, d)
    sub = _draw_level_entries(draw, d)
    ends = _draw_stem_head(draw, d)
    # keep it small: a rough estimate, at most `max_params`
    assume(_estimate(d, net) <= max_params)
    assume(len(net.used_codes) <= max_cells * 2)
    return SpecText(
        text=_write(draw, d, net.bb, sub, ends),
        backbone=backbone,
        dims=dims,
        dynamic=dynamic,
        size=ends.size,
        channels=ends.c_in,
        codes=tuple(net.used_codes),
        features=frozenset(d.feats),
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
