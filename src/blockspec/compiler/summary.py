"""Rendering a `Summary`: the table people read and the dict machines read."""

from __future__ import annotations

from dataclasses import dataclass

from . import ir
from .budget import human
from .infer import NodeStats, Stats, totals

__all__ = ["Summary", "summary_table", "summary_dict", "shape_text"]


@dataclass(frozen=True)
class Summary:
    """Per-node shapes and costs of a network; `str()` is the table."""

    network: ir.Network
    rows: tuple[NodeStats, ...]

    @property
    def totals(self) -> Stats:
        return totals(list(self.rows))

    def to_dict(self) -> dict:
        return summary_dict(self)

    def table(self, depth: int | None = None) -> str:
        return summary_table(self, depth)

    def __str__(self) -> str:
        return self.table()


def shape_text(shape: tuple) -> str:
    return "[" + ", ".join(str(a) for a in shape) + "]"


def _dyn_note(net: ir.Network) -> list[str]:
    notes = []
    for axis, size, step, minimum in zip("DHW", net.input.size, net.input.step, net.input.minimum):
        if isinstance(size, ir.Sym):
            notes.append(f"{axis} = any multiple of {step} (at least {minimum})")
    return notes


def summary_table(s: Summary, depth: int | None = None) -> str:
    """A table per node: path, kind, output shape, params, FLOPs, activation memory; totals.

    `depth` folds rows below that many path components into their ancestor.
    """
    rows = []
    for r in s.rows:
        path = r.path
        if depth is not None:
            path = ".".join(path.split(".")[: max(1, depth)])
        rows.append((path, r.kind, shape_text(r.out_shape), r.stats))
    if depth is not None:
        folded: dict[str, list] = {}
        for path, kind, shape, st in rows:
            if path in folded:
                f = folded[path]
                f[1] = "(folded)" if f[1] != kind else kind
                f[2] = shape
                f[3] = f[3] + st
            else:
                folded[path] = [path, kind, shape, st]
        rows = [tuple(v) for v in folded.values()]
    head = ("node", "kind", "output [C, D, H, W]", "params", "FLOPs", "act. memory")
    table = [head] + [
        (p, k, sh, f"{st.params:,}", human(st.flops), human(st.memory, "B"))
        for p, k, sh, st in rows
    ]
    t = s.totals
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
    lines.insert(0, f"input [C, D, H, W] = {shape_text((inp.channels, *inp.size))}")
    notes = _dyn_note(net)
    if notes:
        lines.append(
            "dynamic sizes: "
            + "; ".join(notes)
            + ". FLOPs and memory are given at the smallest valid size."
        )
    lines.append(
        "FLOPs: 2 per multiply-add, batch 1; memory: float32 training activations, "
        "batch 1 (estimate)."
    )
    return "\n".join(lines)


def summary_dict(s: Summary) -> dict:
    """The summary as JSON-ready data (schema documented in README)."""
    net = s.network
    t = s.totals

    def shape(sh):
        return [a if isinstance(a, int) else str(a) for a in sh]

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
        "nodes": [
            {
                "path": r.path,
                "kind": r.kind,
                "in_shape": shape(r.in_shape),
                "out_shape": shape(r.out_shape),
                "params": r.stats.params,
                "flops": r.stats.flops,
                "memory_bytes": r.stats.memory,
            }
            for r in s.rows
        ],
        "totals": {"params": t.params, "flops": t.flops, "memory_bytes": t.memory},
    }
