"""Semantic rules over the resolved IR: one small function per concern.

Each rule takes the network and yields `SpecError`s with the span of the text that caused
them and a hint with values that would work. The pass `run` applies every rule of `RULES`
and adds what they find to the unit's errors (the pipeline raises them, sorted). Nothing
here allocates tensors.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from math import gcd

from ..errors import ShapeError, Span, SpecError, SpecValueError
from ..language import FAMILIES, families_where
from ..language.options import FRAME_MIXING_NORMS
from . import ir
from .diagnostics import divisors
from .state import Unit
from .tokens import rule_class_token

__all__ = ["RULES", "run", "axes_of", "window_along"]

_WINDOWED = families_where("windowed")
_PATCHED = families_where("patched")
_SIZE_TABLES = families_where("size_table")  # position tables that depend on the map size
_THREE_D = families_where("three_d")
_AXES = "DHW"


def axes_of(family: str) -> tuple[int, ...]:
    """Indices into (D, H, W) that a family's window partitions."""
    return (0, 1, 2) if FAMILIES[family].three_d else (1, 2)


def window_along(cfg, axis: int) -> int:
    """Window along tensor axis (0=D, 1=H, 2=W); the config stores (H, W, D)."""
    return cfg.window[(2, 0, 1)[axis]]


def _patch(cfg, axis: int) -> int:
    return cfg.patch[(2, 0, 1)[axis]]


def _place(cell: ir.Cell, key: str, net: ir.Network, axis: int | None = None) -> tuple[Span, str]:
    """Where to point for a cell parameter, and a note on where the value came from."""
    o = cell.origin(key)
    if o.span is not None:
        note = f" (from 'let {o.let}')" if o.let else ""
        return o.span, note
    if axis is not None and net.input.spans[axis] is not None:
        return net.input.spans[axis], f" (the default {key} at {cell.path})"  # type: ignore[return-value]
    return cell.span, " (the default)"


# ----------------------------------------------------------------------------- rules
def rule_map_sizes(net: ir.Network) -> Iterator[SpecError]:
    """Every halving is exact and every map stays at least 2 (2x2 in H, W; 2 in D if halved)."""
    bb = net.backbone
    key = "stages" if isinstance(bb, ir.SOANet) else "levels"
    written = ir.span_of(bb, key)
    if net.stem is not None:
        for axis in (1, 2):
            size = net.stem.size_out[axis]
            if isinstance(size, int) and size < 2:
                yield ShapeError(
                    f"the stem leaves {_AXES[axis]} = {size}; every map must stay at least 2",
                    net.stem.span,
                    f"use a smaller stem patch, or a larger input {_AXES[axis]}",
                )
                return
    for node in net.nodes():
        if not isinstance(node, ir.Resample) or node.config.direction != "down":
            continue
        steps = len(node.config.channels) - 1
        for axis in range(3):
            if axis == 0 and not node.config.depth:
                continue
            size = node.size_in[axis]
            if isinstance(size, ir.Sym):
                continue
            for _ in range(steps):
                if size % 2 or size // 2 < 2:
                    ax = _AXES[axis]
                    span = written or net.input.spans[axis]
                    msg = (
                        f"{ax} = {size} at {node.path} cannot be halved"
                        if size % 2
                        else f"{ax} would shrink below 2 after {node.path}"
                    )
                    yield ShapeError(msg, span, _fewer_levels(net, axis, key))
                    return
                size //= 2


def _halvings(size: int) -> int:
    """How often a map of `size` halves exactly while staying at least 2."""
    k = 0
    while size % 2 == 0 and size // 2 >= 2:
        size //= 2
        k += 1
    return k


def _fewer_levels(net: ir.Network, axis: int, key: str) -> str:
    """The hint of a halving that does not fit: the most levels/stages the input allows."""
    ax = _AXES[axis]
    size = (net.stem.size_out if net.stem is not None else net.input.size)[axis]
    bb = net.backbone
    tail = f"or give an input {ax} that is a multiple of a larger power of 2"
    if not isinstance(size, int):
        return f"the input {ax} allows fewer {key}; {tail}"
    k = _halvings(size)
    # a U-Net halves once per level (the bridge sits below the last); HR-Net and SOANet
    # halve between levels/stages
    final = isinstance(bb, ir.SOANet) and bb.final_down is not None  # one more halving
    most = k if isinstance(bb, ir.UNet) or final else k + 1
    where = "after the stem" if net.stem is not None else "of the input"
    return f"use at most {most} {key} (the {ax} = {size} {where} halves {k} times); {tail}"


def rule_stem(net: ir.Network) -> Iterator[SpecError]:
    """The stem's patch divides every static input axis."""
    if net.stem is None:
        return
    ph, pw, pd = net.stem.config.patch
    for axis, p in zip(range(3), (pd, ph, pw)):
        size = net.input.size[axis]
        if isinstance(size, int) and size % p:
            ax = _AXES[axis]
            yield ShapeError(
                f"stem patch {p} does not divide the input {ax} = {size}",
                net.stem.span,
                f"patches along {ax} that divide {size}: " + divisors(size, 12),
            )


_PADDED = families_where("local_windows")
_PADDED_CODES = ", ".join(sorted(_PADDED))


def _padding_hint(cell: ir.Cell, w: int) -> str:
    """The window error's word on `window_padding`: the fix where it pads, a note where it
    is written but cannot (only L, L3, S3 and Sh windows are padded)."""
    if cell.config.family in _PADDED:
        return f"; or set window_padding = true (pads the map to a multiple of {w})"
    if cell.origin("window_padding").span is not None:
        return f"; window_padding does not pad {cell.config.code} (only {_PADDED_CODES})"
    return ""


def rule_windows(net: ir.Network) -> Iterator[SpecError]:
    """Windows divide the feature map (unless `window_padding` pads it) and patches divide
    windows, at every level."""
    seen: set = set()
    for cell in net.cells():
        cfg = cell.config
        if cfg.family not in _WINDOWED:
            continue
        for axis in axes_of(cfg.family):
            size, w = cell.size[axis], window_along(cfg, axis)
            ax = _AXES[axis]
            if isinstance(size, int) and size % w and not cfg.window_padding:
                span, note = _place(cell, "window", net, axis)
                if (span, axis) in seen:
                    continue
                seen.add((span, axis))
                p = _patch(cfg, axis) if cfg.family in _PATCHED else 1
                yield ShapeError(
                    f"window {w} does not divide the feature {ax} = {size} at {cell.path}{note}",
                    span,
                    f"windows along {ax} that divide {size}: "
                    + divisors(size, keep=lambda d, p=p: d % p == 0)
                    + _padding_hint(cell, w),
                )
            if cfg.family in _PATCHED and w % _patch(cfg, axis):
                span, note = _place(cell, "patch", net, axis)
                if (span, axis, "p") in seen:
                    continue
                seen.add((span, axis, "p"))
                yield ShapeError(
                    f"patch {_patch(cfg, axis)} does not divide the window {w} along {ax} "
                    f"at {cell.path}{note}",
                    span,
                    f"patches that divide {w}: " + divisors(w),
                )


def rule_heads(net: ir.Network) -> Iterator[SpecError]:
    """Heads divide the channels of every attention cell: one error per place `heads` is
    written, with the heads that divide every channel count that place governs."""
    places: dict = {}  # span -> [note, heads, first failing path, failing counts, all counts]
    for cell in net.cells():
        cfg = cell.config
        if not FAMILIES[cfg.family].attention:
            continue
        span, note = _place(cell, "heads", net)
        entry = places.setdefault(span, [note, cfg.heads, None, [], set()])
        entry[4].add(cfg.c_out)
        if cfg.c_out % cfg.heads:
            if entry[2] is None:
                entry[2] = cell.path
            if cfg.c_out not in entry[3]:
                entry[3].append(cfg.c_out)
    for span, (note, heads, path, bad, counts) in places.items():
        if path is None:
            continue
        if len(bad) == 1:
            what = f"the {bad[0]} channels at {path}"
        else:
            what = f"the channels {', '.join(map(str, bad))} (first at {path})"
        every = sorted(counts)
        g = every[0]
        for c in every[1:]:
            g = gcd(g, c)
        of = str(every[0]) if len(every) == 1 else ", ".join(map(str, every))
        yield ShapeError(
            f"heads = {heads} does not divide {what}{note}",
            span,
            f"heads that divide {of}: " + divisors(g),
        )


def rule_static_sizes(net: ir.Network) -> Iterator[SpecError]:
    """Modules whose parameters depend on the map size need that size to be static."""
    for cell in net.cells():
        cfg = cell.config
        dyn = [i for i in (1, 2) if isinstance(cell.size[i], ir.Sym)]
        if cfg.family in _THREE_D and isinstance(cell.size[0], ir.Sym):
            dyn = [0, *dyn]
        if cfg.rel_pos_bias and cfg.family in _SIZE_TABLES and dyn:
            yield ShapeError(
                f"{cfg.code} with a relative position bias needs a static "
                f"{_AXES[dyn[0]]} (its table depends on the map size)",
                cell.span,
                f"write {cfg.code}(rel_pos_bias=false), set rel_pos_bias = false, "
                "or give a static size",
            )
        if cfg.norm == "layer" and any(isinstance(cell.size[i], ir.Sym) for i in (1, 2)):
            span, _ = _place(cell, "norm", net)
            yield ShapeError(
                "norm = layer needs static H and W (its weights cover the whole map)",
                span,
                "use channel_layer or instance2d, or give a static size",
            )
    if net.stem is not None and net.stem.config.norm == "layer":
        if any(isinstance(a, ir.Sym) for a in net.stem.size_out[1:]):
            yield ShapeError(
                "the stem's layer norm needs static H and W",
                net.stem.span,
                "use channel_layer, or give a static size",
            )


def rule_causal(net: ir.Network) -> Iterator[SpecError]:
    """A causal temporal cell cannot use a norm that mixes frames."""
    seen: set = set()
    for cell in net.cells():
        cfg = cell.config
        if cfg.causal and cfg.norm in FRAME_MIXING_NORMS:
            span, _ = _place(cell, "norm", net)
            if cell.origin("norm").span is None:
                span, _ = _place(cell, "causal", net)
            if span in seen:
                continue  # one report per place in the text
            seen.add(span)
            yield SpecValueError(
                f"causal {cfg.code} at {cell.path} uses norm = {cfg.norm}, which mixes frames",
                span,
                "use a per-frame norm (instance2d, layer, channel_layer) for causal cells",
            )


def rule_temporal_stride(net: ir.Network) -> Iterator[SpecError]:
    """Temporal Q/K strides divide H and W."""
    for cell in net.cells():
        cfg = cell.config
        if not FAMILIES[cfg.family].temporal:
            continue
        for i, s in zip((1, 2), cfg.temporal_stride):
            size = cell.size[i]
            if isinstance(size, int) and size % s:
                span, _ = _place(cell, "temporal_stride", net)
                yield ShapeError(
                    f"temporal_stride {s} does not divide {_AXES[i]} = {size} at {cell.path}",
                    span,
                    "strides that divide it: " + divisors(size, 12),
                )
                break


def rule_mixer_width(net: ir.Network) -> Iterator[SpecError]:
    """The mixer's hidden width floor(mixer_ratio * C) is at least 1."""
    for cell in net.cells():
        cfg = cell.config
        if cfg.has_mixer and int(cfg.mixer_ratio * cfg.c_out) < 1:
            span, _ = _place(cell, "mixer_ratio", net)
            yield SpecValueError(
                f"mixer_ratio {cfg.mixer_ratio:g} gives a mixer of width 0 at {cell.path}",
                span,
                f"use mixer_ratio >= {1 / cfg.c_out:g}",
            )


def rule_position_embedding(net: ir.Network) -> Iterator[SpecError]:
    """A position embedding or a class token needs the stem's static output size."""
    stem = net.stem
    if stem is None:
        return
    cfg = stem.config
    for key, on in (("pos_embed", cfg.pos_embed != "none"), ("class_token", cfg.class_token)):
        dyn = [i for i in range(3) if isinstance(stem.size_out[i], ir.Sym)]
        if on and dyn:
            ax = _AXES[dyn[0]]
            off = "pos_embed = none" if key == "pos_embed" else "class_token = false"
            yield ShapeError(
                f"{key} needs a static size after the stem, but {ax} is `?` "
                f"(one {'row' if key == 'pos_embed' else 'token'} per pixel of a fixed map)",
                stem.key_span(key),
                f"give a static {ax} in input {{ }}, or set {off}",
            )


RULES: tuple[Callable[[ir.Network], Iterator[SpecError]], ...] = (
    rule_map_sizes,
    rule_stem,
    rule_windows,
    rule_heads,
    rule_static_sizes,
    rule_causal,
    rule_temporal_stride,
    rule_mixer_width,
    rule_position_embedding,
    rule_class_token,
)


def run(unit: Unit) -> Unit:
    """Apply every rule to the unit's network."""
    assert unit.network is not None
    errors: list[SpecError] = []
    for rule in RULES:
        errors.extend(rule(unit.network))
    return unit.err(*errors)
