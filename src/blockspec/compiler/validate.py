"""Semantic rules over the resolved IR: one small function per concern.

Each rule takes the network and yields `SpecError`s with the span of the text that caused
them and a hint with values that would work. `validate()` runs every rule, collects all errors
and raises them sorted by position; otherwise it returns the network with the dynamic-size
step recorded (`dynamic_steps`). Nothing here allocates tensors.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from math import lcm

from ..errors import ShapeError, Span, SpecError, SpecValueError
from ..runtime.config import FAMILIES_3D, PATCHED_FAMILIES, WINDOWED_FAMILIES
from . import ir
from .diagnostics import divisors, raise_all

__all__ = ["RULES", "validate", "dynamic_steps"]

_WINDOWED = WINDOWED_FAMILIES
_PATCHED = PATCHED_FAMILIES
_SIZE_TABLES = {"G", "G3", "V2", "V3"}  # position tables that depend on the map size
_FRAME_MIXING = {"batch2d", "batch3d", "instance3d"}
_AXES = "DHW"


def _axes_of(family: str) -> tuple[int, ...]:
    """Indices into (D, H, W) that a family's window partitions."""
    return (0, 1, 2) if family in FAMILIES_3D else (1, 2)


def _win(cfg, axis: int) -> int:
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
                    yield ShapeError(
                        msg,
                        span,
                        f"the input {ax} allows fewer {key}; or give an input {ax} that is a "
                        f"multiple of a larger power of 2",
                    )
                    return
                size //= 2


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


def rule_windows(net: ir.Network) -> Iterator[SpecError]:
    """Windows divide the feature map and patches divide windows, at every level."""
    seen: set = set()
    for cell in net.cells():
        cfg = cell.config
        if cfg.family not in _WINDOWED:
            continue
        for axis in _axes_of(cfg.family):
            size, w = cell.size[axis], _win(cfg, axis)
            ax = _AXES[axis]
            if isinstance(size, int) and size % w:
                span, note = _place(cell, "window", net, axis)
                if (span, axis) in seen:
                    continue
                seen.add((span, axis))
                p = _patch(cfg, axis) if cfg.family in _PATCHED else 1
                yield ShapeError(
                    f"window {w} does not divide the feature {ax} = {size} at {cell.path}{note}",
                    span,
                    f"windows along {ax} that divide {size}: "
                    + divisors(size, keep=lambda d, p=p: d % p == 0),
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
    """Heads divide the channels of every attention cell."""
    seen: set = set()
    for cell in net.cells():
        cfg = cell.config
        if cfg.family in ("C2", "C3") or cfg.c_out % cfg.heads == 0:
            continue
        span, note = _place(cell, "heads", net)
        if (span, cfg.c_out) in seen:
            continue
        seen.add((span, cfg.c_out))
        yield ShapeError(
            f"heads = {cfg.heads} does not divide the {cfg.c_out} channels at {cell.path}{note}",
            span,
            f"heads that divide {cfg.c_out}: " + divisors(cfg.c_out),
        )


def rule_static_sizes(net: ir.Network) -> Iterator[SpecError]:
    """Modules whose parameters depend on the map size need that size to be static."""
    for cell in net.cells():
        cfg = cell.config
        dyn = [i for i in (1, 2) if isinstance(cell.size[i], ir.Sym)]
        if cfg.family in FAMILIES_3D and isinstance(cell.size[0], ir.Sym):
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
        if cfg.causal and cfg.norm in _FRAME_MIXING:
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
        if cfg.family != "T":
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


RULES: tuple[Callable[[ir.Network], Iterator[SpecError]], ...] = (
    rule_map_sizes,
    rule_stem,
    rule_windows,
    rule_heads,
    rule_static_sizes,
    rule_causal,
    rule_temporal_stride,
    rule_mixer_width,
)


# ----------------------------------------------------------------------------- dynamic sizes
def dynamic_steps(net: ir.Network) -> ir.Network:
    """Record, per dynamic input axis, the step M and the smallest valid size.

    M is the least common multiple of what every place needs: 2^k at each halving, 2^k times
    the window there, the temporal stride, and the stem's patch.
    """
    inp = net.input
    if not any(isinstance(a, ir.Sym) for a in inp.size):
        return net
    steps, mins = list(inp.step), list(inp.minimum)
    stem_p = (1, 1, 1)
    if net.stem is not None:
        ph, pw, pd = net.stem.config.patch
        stem_p = (pd, ph, pw)
    for axis in range(3):
        if not isinstance(inp.size[axis], ir.Sym):
            continue
        m = stem_p[axis]
        deepest, halved = stem_p[axis], False  # the largest factor a map is divided by
        for node in net.nodes():
            if isinstance(node, ir.Block):
                for cell in node.cells:
                    a = cell.size[axis]
                    if not isinstance(a, ir.Sym):
                        continue
                    cfg = cell.config
                    if cfg.family in _WINDOWED and axis in _axes_of(cfg.family):
                        m = lcm(m, a.div * _win(cfg, axis))
                    if cfg.family == "T" and axis in (1, 2):
                        m = lcm(m, a.div * cfg.temporal_stride[axis - 1])
            elif isinstance(node, ir.Resample) and node.config.direction == "down":
                out = node.size_out[axis]
                if isinstance(out, ir.Sym):
                    m = lcm(m, out.div)
                    deepest, halved = max(deepest, out.div), True
        # every map stays >= 2 in H and W (and in D when depth is halved)
        need = 2 * deepest if axis > 0 or halved else deepest
        steps[axis] = m
        mins[axis] = max(m, -(-need // m) * m)
    new_inp = replace(inp, step=tuple(steps), minimum=tuple(mins))  # type: ignore[arg-type]
    return replace(net, input=new_inp)


def validate(net: ir.Network) -> ir.Network:
    """Run every rule; raise all errors (sorted) or return the network with dynamic steps."""
    errors: list[SpecError] = []
    for rule in RULES:
        errors.extend(rule(net))
    raise_all(errors)
    return dynamic_steps(net)
