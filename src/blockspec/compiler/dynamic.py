"""Pass: the step M and the smallest valid size of every dynamic (``?``) input axis."""

from __future__ import annotations

from dataclasses import replace
from math import lcm

from ..language import FAMILIES
from . import ir
from .state import Unit
from .validate import axes_of, window_along

__all__ = ["run", "dynamic_steps"]


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
                    fam = FAMILIES[cfg.family]
                    padded = cfg.window_padding  # any size: the map is padded
                    if fam.windowed and axis in axes_of(cfg.family) and not padded:
                        m = lcm(m, a.div * window_along(cfg, axis))
                    if fam.temporal and axis in (1, 2):
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


def run(unit: Unit) -> Unit:
    assert unit.network is not None
    return replace(unit, network=dynamic_steps(unit.network))
