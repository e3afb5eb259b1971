"""Rendering a `Summary`: the table people read and the dict machines read."""

from __future__ import annotations

from dataclasses import dataclass

from . import ir
from .budget import human
from .costs import Stats, cell_parts, cell_stats
from .infer import NodeStats, totals
from .tokens import token_row

__all__ = [
    "Summary", "summary_table", "summary_dict", "shape_text", "rows_at_depth", "figures_at",
    "DTYPE_BYTES",
]  # fmt: skip


@dataclass(frozen=True)
class Summary:
    """Per-node shapes and costs of a network; `str()` is the table."""

    network: ir.Network
    rows: tuple[NodeStats, ...]

    @property
    def totals(self) -> Stats:
        return totals(list(self.rows))

    def to_dict(self, batch: int = 1, dtype: str = "float32") -> dict:
        return summary_dict(self, batch, dtype)

    def table(self, depth: int | None = None, batch: int = 1, dtype: str = "float32") -> str:
        return summary_table(self, depth, batch, dtype)

    def __str__(self) -> str:
        return self.table()


def shape_text(shape: tuple) -> str:
    return "[" + ", ".join(str(a) for a in shape) + "]"


#: bytes per element of the dtypes a summary can be scaled to
DTYPE_BYTES = {"float32": 4, "float64": 8, "bfloat16": 2, "float16": 2}


def _scale(st: Stats, batch: int, dtype: str) -> Stats:
    """FLOPs and activation memory for `batch` samples in `dtype` (params stay)."""
    return Stats(st.params, st.flops * batch, st.memory * batch * DTYPE_BYTES[dtype] // 4)


def _dyn_note(net: ir.Network) -> list[str]:
    notes = []
    for axis, size, step, minimum in zip("DHW", net.input.size, net.input.step, net.input.minimum):
        if isinstance(size, ir.Sym):
            notes.append(f"{axis} = any multiple of {step} (at least {minimum})")
    return notes


def figures_at(net: ir.Network) -> tuple[int, ...]:
    """The input [C, D, H, W] the figures are computed for (the smallest valid one)."""
    return (net.input.channels, *ir.concrete(net.input.size, net.input))


def _cell_rows(row: NodeStats, net: ir.Network, parts: bool) -> list[tuple]:
    """A block row expanded into its cells (and each cell into its submodules)."""
    block = row.node
    assert isinstance(block, ir.Block)
    tokens = token_row(net)  # with a class token, the cells run on the token row
    shown = tokens or block.size
    size = tokens or ir.concrete(block.size, net.input)
    out = []
    for cell in block.cells:
        cfg = cell.config
        out.append((cell.path, f"cell {cfg.code}", (cfg.c_out, *shown), cell_stats(cfg, size)))
        if parts:
            for name, kind, st in cell_parts(cfg, size):
                c = cfg.c_in if name == "norm1" else cfg.c_out
                out.append((f"{cell.path}.{name}", kind, (c, *shown), st))
    return out


def rows_at_depth(s: Summary, depth: int | None) -> list[tuple]:
    """(path, kind, output shape, stats) rows: the module-level nodes, folded into their
    ancestors above `depth` path components, blocks expanded into cells (and cells into
    their submodules) below it, like torchinfo's depth."""
    rows: list[tuple] = []
    for r in s.rows:
        n = len(r.path.split("."))
        if depth is not None and isinstance(r.node, ir.Block) and depth > n:
            rows.extend(_cell_rows(r, s.network, parts=depth > n + 1))
        else:
            rows.append((r.path, r.kind, r.out_shape, r.stats))
    if depth is None:
        return rows
    folded: dict[str, list] = {}
    for path, kind, shape, st in rows:
        path = ".".join(path.split(".")[: max(1, depth)])
        if path in folded:
            f = folded[path]
            f[1] = "(folded)" if f[1] != kind else kind
            f[2] = shape
            f[3] = f[3] + st
        else:
            folded[path] = [path, kind, shape, st]
    return [tuple(v) for v in folded.values()]


def summary_table(
    s: Summary, depth: int | None = None, batch: int = 1, dtype: str = "float32"
) -> str:
    """A table per node: path, kind, output shape, params, FLOPs, activation memory; totals.

    `depth` folds rows below that many path components into their ancestor, and expands
    blocks into cells (depth + 1) and their submodules (depth + 2); `batch` and `dtype`
    scale the FLOP and memory columns.
    """
    if depth is not None and depth < 1:
        raise ValueError(f"depth must be at least 1, not {depth}")
    rows = [
        (p, k, shape_text(sh), _scale(st, batch, dtype)) for p, k, sh, st in rows_at_depth(s, depth)
    ]
    head = ("node", "kind", "output [C, D, H, W]", "params", "FLOPs", "act. memory")
    table = [head] + [
        (p, k, sh, f"{st.params:,}", human(st.flops), human(st.memory, "B"))
        for p, k, sh, st in rows
    ]
    t = _scale(s.totals, batch, dtype)
    table.append(("total", "", "", f"{t.params:,}", human(t.flops), human(t.memory, "B")))
    widths = [max(len(row[i]) for row in table) for i in range(6)]
    lines = []
    for i, row in enumerate(table):
        cells = [row[j].ljust(widths[j]) if j < 3 else row[j].rjust(widths[j]) for j in range(6)]
        lines.append("  ".join(cells).rstrip())
        if i == 0 or i == len(table) - 2:
            lines.append("  ".join("-" * w for w in widths))
    net = s.network
    inp = net.input
    lines.insert(
        0,
        f"input [C, D, H, W] = {shape_text((inp.channels, *inp.size))}"
        " (windows and patches are written [H, W, D])",
    )
    lines.append(
        f"parameters: {t.params:,} trainable, 0 frozen; "
        f"{human(t.params * DTYPE_BYTES[dtype], 'B')} in {dtype}"
    )
    notes = _dyn_note(net)
    if notes:
        lines.append(
            "dynamic sizes: "
            + "; ".join(notes)
            + f". FLOPs and memory are for the smallest valid input {shape_text(figures_at(net))}"
            "; a compiled model checks its memory budget again at the size it is fed."
        )
    row = token_row(net)
    if row is not None:
        lines.append(
            f"class token: the stem and the stages show the row [C, 1, 1, {row[2]:,}] they run "
            f"on (the token and {row[2] - 1:,} pixels); the network returns maps."
        )
    lines.append(
        f"FLOPs: 2 per multiply-add, batch {batch}; memory: {dtype} training activations, "
        f"batch {batch} (estimate)."
    )
    return "\n".join(lines)


def summary_dict(s: Summary, batch: int = 1, dtype: str = "float32") -> dict:
    """The summary as JSON-ready data (schema in docs/cli.md); `batch` and `dtype` scale the
    FLOP and memory figures as in the table."""
    net = s.network
    t = _scale(s.totals, batch, dtype)

    def shape(sh):
        return [a if isinstance(a, int) else str(a) for a in sh]

    def node(r: NodeStats) -> dict:
        st = _scale(r.stats, batch, dtype)
        return {
            "path": r.path,
            "kind": r.kind,
            "in_shape": shape(r.in_shape),
            "out_shape": shape(r.out_shape),
            "params": st.params,
            "flops": st.flops,
            "memory_bytes": st.memory,
        }

    return {
        "file": net.file,
        "input": shape((net.input.channels, *net.input.size)),
        "dynamic": {
            axis: {"step": step, "minimum": minimum}
            for axis, size, step, minimum in zip(
                "DHW", net.input.size, net.input.step, net.input.minimum
            )
            if isinstance(size, ir.Sym)
        },
        "figures_at": list(figures_at(net)),
        "batch": batch,
        "dtype": dtype,
        "nodes": [node(r) for r in s.rows],
        "totals": {
            "params": t.params,
            "trainable_params": t.params,
            "frozen_params": 0,
            "params_bytes": t.params * DTYPE_BYTES[dtype],
            "flops": t.flops,
            "memory_bytes": t.memory,
        },
    }
