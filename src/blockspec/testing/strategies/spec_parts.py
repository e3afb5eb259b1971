"""The later steps of `specs()`: block strings, level entries, stem and head, the text.

Each step takes the `_Draft` that `specs._specs` filled in so far; the order of the draws is
part of what the strategy generates.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from math import gcd
from typing import TYPE_CHECKING

from hypothesis import strategies as st

from .blocks import _block
from .sizing import _cell_estimate
from .tables import (
    _ACTIVATIONS,
    _ANY,
    _ATTN,
    _BOOLS,
    _FAMILY,
    _PATCHED,
    _PER_FRAME_NORMS,
    _THREE_D,
    _WINDOWED,
    _divisors,
)

if TYPE_CHECKING:
    from .specs import _Draft


@dataclass
class _Net:
    """The backbone section's entries and the block strings it uses, per level entry."""

    bb: list[str] = field(default_factory=list)
    blocks_by_level: list[str] = field(default_factory=list)
    block_codes: dict[str, list[str]] = field(default_factory=dict)
    used_codes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Ends:
    """The optional stem and head sections and the input's channels and size."""

    stem: str | None
    head: str | None
    c_in: int
    size: tuple[int, int | None, int | None]


def _downsample(draw: st.DrawFn, d: _Draft, bb: list[str]) -> None:
    """The backbone's downsample method, with the merge's norm now and then."""
    if d.down_text is not None:
        bb.append(f"downsample = {d.down_text}")
        if d.down_text == "merge" and draw(st.booleans()):
            bb.append("downsample_norm = channel_layer")


def _network_overrides(d: _Draft) -> dict[str, tuple[frozenset[str] | None, Sequence[str]]]:
    """Per-cell overrides valid anywhere in this network."""
    ov: dict[str, tuple[frozenset[str] | None, Sequence[str]]] = {
        "heads": (_ATTN, tuple(str(x) for x in _divisors(d.heads))),
        "dropout": (_ANY, ("0.0", "0.3")),
        "activation": (_ANY, _ACTIVATIONS),
        "layout": (_ANY, ("sequential", "parallel")),
        "cosine": (_ATTN, _BOOLS),
        "out_proj": (_ATTN, _BOOLS),
        "rel_pos_bias": (_WINDOWED, ("false",) if d.dynamic else _BOOLS),
        "attention": (_WINDOWED - {"V2", "V3"}, ("conv", "lin")),  # lin V is window-sized
        "mixer": (_WINDOWED - {"V2", "V3"}, ("conv", "lin")),
        "norm": (_ANY, d.norms),
        "norm_eps": (_ANY, ("1e-6", "0.001")),
        "qkv_bias": (_ATTN, _BOOLS),
    }
    if d.dims == "2d+t":
        ov["causal"] = (
            frozenset({"T"}),
            _BOOLS if set(d.norms) <= set(_PER_FRAME_NORMS) else ("false",),
        )
    if d.rule_name == "keep_window_size" and not d.dynamic:
        # windows dividing the smallest map divide every map (maps are it times 2^k)
        ph, pw, pd = d.patch
        wins = [
            f"[{a}, {b}, {c}]"
            for a in _divisors(d.maps_h[-1])
            for b in _divisors(d.maps_w[-1])
            for c in _divisors(d.maps_d[-1])
            if a % ph == 0 and b % pw == 0 and c % pd == 0
        ]
        ov["window"] = (_WINDOWED - _PATCHED, wins[:12])
    return ov


def _qlist(items: list[str]) -> str:
    return "[" + ", ".join(f'"{b}"' for b in items) + "]"


def _draw_backbone(draw, d: _Draft) -> _Net:
    """The backbone section: channels, block strings and the backbone's own keys."""
    ov_block = _network_overrides(d)
    n_strings = d.n_levels
    unet = d.backbone == "unet"
    per_block = max(1, min(3, d.max_cells // max(1, n_strings + (1 if unet else 0))))
    net = _Net()
    bb = net.bb

    def block() -> str:
        text, got = draw(_block(1, per_block, d.codes, ov_block))
        net.used_codes.extend(got)
        net.block_codes[text] = got
        return text

    n_levels = d.n_levels
    if d.backbone == "soanet":
        stages = [block() for _ in range(n_levels)]
        bb.append(f"channels = {d.chan_text}")
        bb.append(f"stages = {_qlist(stages)}")
        _downsample(draw, d, bb)
        blocks_by_level = stages
    else:
        k = draw(st.integers(1, n_levels))
        blocks = [block() for _ in range(k)]
        blocks_by_level = blocks + [blocks[-1]] * (n_levels - k)
        bb.append(f"channels = {d.chan_text}")
        bb.append(f"levels = {n_levels}")
        bb.append(f"blocks = {_qlist(blocks)}")
        _downsample(draw, d, bb)
        if draw(st.booleans()):
            bb.append(f"upsample = {draw(st.sampled_from(('linear', 'nearest')))}")
        if unet:
            if draw(st.booleans()):
                decoder = [block() for _ in range(draw(st.integers(1, n_levels)))]
                bb.append(f"decoder = {_qlist(decoder)}")
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
                d.feats.add(f"gate:{opt_gate}")
        elif draw(st.booleans()):
            fusion = block()
            bb.append(f'fusion = "{fusion}"')
            blocks_by_level.append(fusion)
    if d.depth:
        bb.append("downsample_depth = true")
    net.blocks_by_level = blocks_by_level
    return net


def _level_channels(d: _Draft, i: int) -> set[int]:
    c = d.chans
    if d.backbone == "unet":
        if i == d.n_levels:
            return {c[-1]}
        return {c[i], c[i - 1] if i > 0 else c[0]}
    return {c[i]}


def _draw_level_entries(draw, d: _Draft) -> list[str]:
    """Level / stage entries (used as written: they must divide that level's map)."""
    sub: list[str] = []
    lk = "stage" if d.backbone == "soanet" else "level"
    n_entries = d.n_levels + (1 if d.backbone == "unet" else 0)
    for i in sorted(set(draw(st.lists(st.integers(0, n_entries - 1), max_size=2)))):
        k = d.halvings[i]
        items = []
        g = 0
        for c in _level_channels(d, i):
            g = gcd(g, c)
        if draw(st.booleans()):
            items.append(f"heads = {draw(st.sampled_from(_divisors(g)))}")
        if draw(st.booleans()):
            md = d.maps_d[k] if d.depth else d.d_min
            lw_h, lw_w = (
                draw(st.sampled_from((1, 2, 4) if dyn else _divisors(m)))
                for dyn, m in zip(d.dyn_axes, (d.maps_h[k], d.maps_w[k]), strict=True)
            )
            lw_d = draw(st.sampled_from(_divisors(md)))
            lp = [draw(st.sampled_from(_divisors(x))) for x in (lw_h, lw_w, lw_d)]
            items.append(f"window = [{lw_h}, {lw_w}, {lw_d}]")
            items.append(f"patch = [{lp[0]}, {lp[1]}, {lp[2]}]")
            d.feats.add("level_window")
        if draw(st.booleans()):
            items.append(f"dropout = {draw(st.sampled_from(('0.0', '0.05')))}")
        if items:
            sep = draw(st.sampled_from(("; ", ", ")))
            sub.append(f"{lk} {i} {{ {sep.join(items)} }}")
            d.feats.add("level_entry")
    return sub


def _draw_stem_head(draw, d: _Draft) -> _Ends:
    """The input's channels, an optional stem (it multiplies H, W) and an optional head."""
    stem = None
    c_in = draw(st.integers(1, 3))
    sp_h = sp_w = 1
    if draw(st.booleans()):
        sp_h, sp_w = draw(st.sampled_from((1, 2))), draw(st.sampled_from((1, 2)))
        s_ch = draw(st.sampled_from((2, 4, 8)))
        s_norms = ["none", "channel_layer", "instance2d", "batch2d"] + (
            [] if d.dynamic else ["layer"]
        )
        s_norm = draw(st.sampled_from(s_norms))
        parts = [f"patch = [{sp_h}, {sp_w}, 1]", f"channels = {s_ch}"]
        if s_norm != "none" or draw(st.booleans()):
            parts.append(f"norm = {s_norm}")
        stem = "stem { " + ", ".join(parts) + " }"
        d.feats.add("stem")
    head = None
    hk = draw(st.sampled_from((None, "conv", "classify")))
    if hk == "conv":
        head = f"head conv {{ out_channels = {draw(st.integers(1, 3))} }}"
    elif hk == "classify":
        head = f"head classify {{ classes = {draw(st.integers(2, 4))} }}"
    if hk:
        d.feats.add(f"head:{hk}")
    D = d.maps_d[0] if d.depth else d.d_min
    H = None if d.dyn_axes[0] else d.maps_h[0] * sp_h
    W = None if d.dyn_axes[1] else d.maps_w[0] * sp_w
    return _Ends(stem, head, c_in, (D, H, W))


def _tokens(d: _Draft, code: str) -> int:
    """Tokens per window (V) or per patch (patched families) of one cell."""
    fam = _FAMILY[code]
    (wh, ww, wd), (ph, pw, pd) = d.window, d.patch
    if fam in ("V2", "V3"):
        return wh * ww * (wd if fam == "V3" else 1)
    return ph * pw * (pd if fam in _THREE_D else 1) if fam in _PATCHED else 1


def _lin_flags(d: _Draft, code: str) -> tuple[bool, bool]:
    if _FAMILY[code] in ("V2", "V3"):
        return ("attention = lin" in d.entries, "mixer = lin" in d.entries)
    return (True, True)  # block-string overrides may switch other families to lin


def _estimate(d: _Draft, net: _Net) -> int:
    """A rough upper bound of the network's parameters (only to keep examples small)."""
    est = 0
    chans = d.chans
    for i, text in enumerate(net.blocks_by_level):
        lvl = min(i, len(chans) - 1)
        c = max(chans[lvl], chans[min(lvl + 1, len(chans) - 1)])
        est += sum(
            _cell_estimate(code, 2 * c, c, d.ratio, _tokens(d, code), _lin_flags(d, code))
            for code in net.block_codes[text]
        )
    return est


def _write(draw, d: _Draft, bb: list[str], sub: list[str], ends: _Ends) -> str:
    """The text: lets, then the sections in a drawn order with drawn separators."""
    lets: list[str] = []
    if draw(st.booleans()) and d.chan_text.isdigit():
        lets.append(f"let C = {d.chan_text}")
        bb[0] = "channels = C"
        d.feats.add("let")

    def section(head_text: str, items: list[str]) -> str:
        sep = draw(st.sampled_from((", ", "\n  ", "; ", ",\n  ")))
        if "\n" in sep:
            return f"{head_text} {{\n  " + sep.join(items) + "\n}"
        return f"{head_text} {{ " + sep.join(items) + " }"

    D, H, W = ends.size
    size_txt = ["?" if v is None else str(v) for v in (H, W)]
    inp = section(
        "input",
        [f"channels = {ends.c_in}", f"D = {D}", f"H = {size_txt[0]}", f"W = {size_txt[1]}"],
    )
    sections = [inp, section("cell", d.entries), section(f"backbone {d.backbone}", bb + sub)]
    if ends.stem:
        sections.append(ends.stem)
    if ends.head:
        sections.append(ends.head)
    order = draw(st.permutations(range(len(sections))))
    body = [sections[i] for i in order]
    return "\n".join(lets + body) + "\n"
