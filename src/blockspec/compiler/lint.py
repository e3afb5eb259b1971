"""Pass: warnings, for what is legal but probably not what was meant.

- a window or patch that looks written D-first (``[2, 8, 8]`` on a 3D input: the language
  writes them ``[H, W, D]``);
- temporal cells (T, F) on D = 1: attention over one frame;
- 3D families on D = 1: their 3x3x3 convolutions see only zero padding above and below;
- a `let` that nothing uses;
- a SOANet stage whose output nothing reads (``outputs = stage_inputs`` without
  ``final_downsample``: the last stage computes nothing that is returned);
- ``rel_pos_table = written_window`` with ``rel_pos_bias = false`` (there is no table).

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


def _dead_stage(net: ir.Network, out: dict) -> None:
    """`outputs = stage_inputs` with no `down_out`: nobody reads the last stage's output."""
    bb = net.backbone
    if not isinstance(bb, ir.SOANet) or bb.outputs != "stage_inputs" or bb.final_down:
        return
    span = ir.span_of(bb, "outputs")
    if span is None or span in out:
        return
    last = len(bb.stages) - 1
    token = net.stem is not None and net.stem.config.class_token
    what = "its cells are computed and never used"
    if last == 0:
        what = "no cell reaches what the backbone returns (the stem's output)"
        head = net.head
        if token and head is not None and head.config.pool == "token":
            what += ", so the logits do not depend on the input"
    fix = "set outputs = stage_outputs (a class token allows no final_downsample)"
    if not token:
        fix = (
            "set final_downsample = true (downsample on) to read it, as MONAI's encoder does, "
            "or outputs = stage_outputs"
        )
    out[span] = SpecWarning(
        f"outputs = stage_inputs returns every stage's input, and without final_downsample "
        f"nothing reads the output of stage{last}: {what}",
        span,
        fix,
    )


def _idle_table(net: ir.Network, out: dict) -> None:
    """`rel_pos_table = written_window` on a cell without a relative position bias."""
    for cell in net.cells():
        cfg = cell.config
        span = cell.origin("rel_pos_table").span
        if cfg.rel_pos_table != "written_window" or cfg.rel_pos_bias or span is None:
            continue
        if span not in out:
            out[span] = SpecWarning(
                f"rel_pos_table = written_window has no effect on {cfg.code} at {cell.path}: "
                "rel_pos_bias = false, so there is no bias table",
                span,
                "remove rel_pos_table, or set rel_pos_bias = true",
            )


def warnings_of(unit: Unit, net: ir.Network, spec: A.Spec) -> tuple[SpecWarning, ...]:
    """Every warning of a validated network, in source order."""
    found: dict = {}
    _layouts(unit, net, found)
    _frames(net, found)
    _unused_lets(spec, found)
    _dead_stage(net, found)
    _idle_table(net, found)
    return tuple(sort_errors(found.values()))  # type: ignore[arg-type]


def run(unit: Unit) -> Unit:
    assert unit.network is not None
    net = unit.network
    return replace(unit, network=replace(net, warnings=warnings_of(unit, net, unit.spec)))
