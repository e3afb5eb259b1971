"""Pass: warnings, for what is legal but probably not what was meant.

- a window or patch that looks written D-first (``[2, 8, 8]`` on a 3D input: the language
  writes them ``[H, W, D]``);
- temporal cells (T, F) on D = 1: attention over one frame;
- 3D families on D = 1: their 3x3x3 convolutions see only zero padding above and below;
- a `let` that nothing uses.

Warnings are attached to the network (`Network.warnings`), one per place in the text; they
never stop a compilation unless the caller asks for strictness.
"""

from __future__ import annotations

from dataclasses import replace

from ..errors import SpecWarning
from ..language import FAMILIES
from . import ast as A
from . import ir
from .diagnostics import sort_errors
from .state import Unit

__all__ = ["run", "warnings_of"]


def _d_first(v: tuple[int, int, int]) -> bool:
    """[a, b, b] with a < b reads like [D, H, W] with a small D."""
    return v[0] < v[1] == v[2]


def _layouts(unit: Unit, net: ir.Network, out: dict) -> None:
    """Windows and patches of `cell { }` and level/stage entries, as written."""
    if not isinstance(net.input.size[0], int) or net.input.size[0] <= 1:
        return
    written = [unit.defaults, *(params for _, params in unit.subs.values())]
    for params in written:
        for key in ("window", "patch"):
            p = params.get(key)
            if p is None or p.origin.span is None or not _d_first(p.value):  # type: ignore[arg-type]
                continue
            h, w, d = p.value  # type: ignore[misc]
            out[p.origin.span] = SpecWarning(
                f"{key} [{h}, {w}, {d}] reads H = {h}, W = {w}, D = {d}: is it written D-first?",
                p.origin.span,
                f"{key}s are written [H, W, D]; for D = {h} write [{w}, {d}, {h}]",
            )


def _frames(net: ir.Network, out: dict) -> None:
    for cell in net.cells():
        if cell.size[0] != 1 or cell.span is None or cell.span in out:
            continue
        fam = FAMILIES[cell.config.family]
        code = cell.config.code
        if fam.temporal:
            out[cell.span] = SpecWarning(
                f"{code} at {cell.path} attends over D = 1 frame (its attention weights are all 1)",
                cell.span,
                "temporal cells need D > 1; use L1/G1 (2D) or give the input more frames",
            )
        elif fam.three_d and _convolves(cell.config):
            out[cell.span] = SpecWarning(
                f"{code} at {cell.path} is a 3D cell on D = 1: its 3x3x3 kernels see zero "
                "padding above and below",
                cell.span,
                "use a 2D family (L1, G1, V2, C2) for D = 1, or give the input more frames",
            )


def _convolves(cfg) -> bool:
    """Whether a 3D cell has a 3x3x3 convolution: its core, conv Q/K/V, or the projection."""
    fam = FAMILIES[cfg.family]
    return not fam.attention or cfg.attention == "conv" or cfg.c_in != cfg.c_out


def _unused_lets(spec: A.Spec, out: dict) -> None:
    used: set[str] = set()
    stack: list = list(spec.statements)
    while stack:
        node = stack.pop()
        if isinstance(node, A.NameRef):
            used.add(node.name)
        elif isinstance(node, (A.Let, A.Entry)):
            stack.append(node.value)
        elif isinstance(node, (A.Section, A.Sub)):
            stack.extend(node.items)
        elif isinstance(node, A.BinOp):
            stack.extend((node.left, node.right))
        elif isinstance(node, A.Neg):
            stack.append(node.operand)
        elif isinstance(node, A.ListExpr):
            stack.extend(node.items)
    for st in spec.statements:
        if isinstance(st, A.Let) and st.name not in used and st.name_span not in out:
            out[st.name_span] = SpecWarning(
                f"let {st.name} is never used", st.name_span, "remove it, or use it in a value"
            )


def warnings_of(unit: Unit, net: ir.Network, spec: A.Spec) -> tuple[SpecWarning, ...]:
    """Every warning of a validated network, in source order."""
    found: dict = {}
    _layouts(unit, net, found)
    _frames(net, found)
    _unused_lets(spec, found)
    return tuple(sort_errors(found.values()))  # type: ignore[arg-type]


def run(unit: Unit) -> Unit:
    assert unit.network is not None
    net = unit.network
    return replace(unit, network=replace(net, warnings=warnings_of(unit, net, unit.spec)))
