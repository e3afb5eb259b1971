"""The DOT builder: escaping, HTML labels, and the nodes every layout shares (blocks,
resamplers, input, stem, head, the title)."""

from __future__ import annotations

import html
import re

from ..compiler import ir
from ..compiler.budget import human
from ..compiler.infer import NodeStats

__all__ = [
    "Dot", "FILL", "FONT", "MONO", "DOWN", "UP", "DATA", "SKIP", "SUM", "q", "e", "size_text",
    "shape_text", "count", "header", "cluster",
]  # fmt: skip


FONT = "Helvetica"
MONO = "monospace"
FILL = {
    "io": "#eeeeee",
    "stem": "#e3e3e3",
    "enc": "#dbe9f6",
    "bridge": "#fde2c4",
    "dec": "#d9f0d3",
    "fusion": "#e8dcf3",
    "gate": "#fff2a8",
    "resample": "#f5f5f5",
    "head": "#f9d5d3",
}
DOWN, UP, DATA, SKIP, SUM = "#1f5fa8", "#c0392b", "#444444", "#2e8b57", "#999999"


def q(s: str) -> str:
    """A DOT quoted identifier."""
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def e(s: object) -> str:
    """Text escaped for a DOT HTML label."""
    return html.escape(str(s), quote=True)


def size_text(size: tuple) -> str:
    return "×".join(str(a) for a in size)


def shape_text(shape: tuple) -> str:
    return "[" + ", ".join(str(a) for a in shape) + "]"


def _attrs(**kw: object) -> str:
    parts = []
    for k, v in kw.items():
        if v is None:
            continue
        text = str(v)
        parts.append(f"{k}={text}" if text.startswith("<") else f"{k}={q(text)}")
    return "[" + ", ".join(parts) + "]" if parts else ""


def _wrap(text: str, width: int = 30) -> list[str]:
    """Split a long block string at item boundaries (spaces, or before a cell code)."""
    if len(text) <= width:
        return [text]
    pieces = re.findall(r"\s*(?:\([^()]*\)|[^\s(]+?(?=[A-Z(\s]|$)|\S)", text)
    lines, cur = [], ""
    for p in pieces:
        if cur and len(cur) + len(p) > width:
            lines.append(cur)
            cur = p.lstrip()
        else:
            cur += p
    return lines + [cur] if cur else lines


def count(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _channels(c_in: int, c_out: int) -> str:
    return f"C {c_in}" if c_in == c_out else f"C {c_in}→{c_out}"


class Dot:
    """Collects the statements of one digraph."""

    def __init__(self, net: ir.Network, rows: list[NodeStats]) -> None:
        self.net = net
        self.stats = {r.path: r for r in rows}
        self.lines: list[str] = []

    def params(self, path: str) -> str:
        row = self.stats.get(path)
        return "" if row is None else f"{human(row.stats.params)} params"

    def node(self, name: str, label: str, indent: str = "  ", **kw: object) -> None:
        kw.setdefault("id", name)
        self.lines.append(f"{indent}{q(name)} {_attrs(label=label, **kw)}")

    def edge(self, a: str, b: str, indent: str = "  ", **kw: object) -> None:
        self.lines.append(f"{indent}{q(a)} -> {q(b)} {_attrs(**kw)}".rstrip())

    def raw(self, line: str) -> None:
        self.lines.append(line)

    # -- labels -------------------------------------------------------------------------
    def block(self, b: ir.Block, fill: str, indent: str = "    ") -> None:
        text = "<BR/>".join(f'<FONT FACE="{MONO}">{e(t)}</FONT>' for t in _wrap(b.text))
        facts = f"{_channels(b.c_in, b.c_out)} · {e(size_text(b.size))}"
        label = (
            f"<<B>{e(b.path)}</B><BR/>{text}<BR/>"
            f'<FONT POINT-SIZE="9">{facts}</FONT><BR/>'
            f'<FONT POINT-SIZE="8" COLOR="#555555">{self.params(b.path)}</FONT>>'
        )
        self.node(b.path, label, indent, fillcolor=fill, tooltip=f"{b.path}: {b.text}")

    def resample_text(self, r: ir.Resample) -> str:
        c = r.config
        if c.direction == "down":
            steps = len(c.channels) - 1
            arrow = f"↓{2**steps}"
        else:
            arrow = f"↑{c.factor}"
        depth = " (D too)" if c.depth else ""
        return f"{arrow} {c.method}{depth}"

    def resample_node(self, r: ir.Resample, indent: str = "  ") -> None:
        c = r.config
        label = (
            f'<<FONT POINT-SIZE="9"><B>{e(r.path)}</B><BR/>{e(self.resample_text(r))} · '
            f"{_channels(c.channels[0], c.channels[-1])}<BR/>"
            f"{e(size_text(r.size_out))}</FONT>>"
        )
        self.node(
            r.path,
            label,
            indent,
            shape="box",
            style="filled",
            fillcolor=FILL["resample"],
            color=DOWN if c.direction == "down" else UP,
            tooltip=f"{r.path}: {self.params(r.path)}",
        )

    def resample_edge(
        self, r: ir.Resample, a: str, b: str, named: bool = False, **kw: object
    ) -> None:
        """A resampler drawn as the edge a -> b (its path is the edge's id and tooltip)."""
        c = r.config
        color = DOWN if c.direction == "down" else UP
        name = f"<B>{e(r.path)}</B><BR/>" if named else ""
        label = (
            f'<<FONT POINT-SIZE="8" COLOR="{color}">{name}{e(self.resample_text(r))}<BR/>'
            f"{_channels(c.channels[0], c.channels[-1])}</FONT>>"
        )
        self.edge(
            a,
            b,
            id=r.path,
            label=label,
            color=color,
            tooltip=f"{r.path}: {self.resample_text(r)}, {self.params(r.path)}",
            **kw,
        )

    def io(self, name: str, title: str, shape: tuple, indent: str = "  ") -> None:
        label = f'<<B>{e(title)}</B><BR/><FONT POINT-SIZE="9">{e(shape_text(shape))}</FONT>>'
        self.node(name, label, indent, shape="oval", fillcolor=FILL["io"])

    def stem(self, indent: str = "  ") -> str:
        """Input (and stem) nodes; returns the name that feeds the backbone."""
        net = self.net
        self.io("input", "input [C, D, H, W]", (net.input.channels, *net.input.size), indent)
        if net.stem is None:
            return "input"
        s = net.stem
        c = s.config
        label = (
            f"<<B>stem</B><BR/>patch {e(list(c.patch))} · norm {e(c.norm or 'none')}<BR/>"
            f'<FONT POINT-SIZE="9">{_channels(c.c_in, c.c_out)} · {e(size_text(s.size_out))}</FONT>'
            f'<BR/><FONT POINT-SIZE="8" COLOR="#555555">{self.params(s.path)}</FONT>>'
        )
        self.node(s.path, label, indent, fillcolor=FILL["stem"])
        self.edge("input", s.path, indent)
        return s.path

    def head(self, indent: str = "  ") -> str | None:
        """Head and output nodes (no edges); returns the head's name, None without a head."""
        net = self.net
        if net.head is None:
            return None
        h = net.head
        c = h.config
        what = "per-pixel conv1" if c.kind == "conv" else "mean-pool + linear"
        label = (
            f"<<B>head</B> ({e(c.kind)})<BR/>"
            f'<FONT POINT-SIZE="9">{e(what)} · C {c.c_in}→{c.n}</FONT><BR/>'
            f'<FONT POINT-SIZE="8" COLOR="#555555">{self.params(h.path)}</FONT>>'
        )
        self.node(h.path, label, indent, fillcolor=FILL["head"])
        row = self.stats.get(h.path)
        self.io("output", "output", row.out_shape if row else (c.n,), indent)
        return h.path

    def tail(self, src: str) -> None:
        """Head and output after `src`, or an output node with `src`'s shape."""
        head = self.head()
        if head is not None:
            self.edge(src, head)
            self.edge(head, "output")
        else:
            row = self.stats.get(src)
            self.io("output", "output", row.out_shape if row else ())
            self.edge(src, "output")


def header(d: Dot, title: str, kind: str) -> None:
    net = d.net
    total = sum(r.stats.params for r in d.stats.values())
    directions = {r.config.direction for r in net.nodes() if isinstance(r, ir.Resample)}
    legend = ["sizes are D×H×W"]
    if "down" in directions:
        legend.append(f'<FONT COLOR="{DOWN}">blue: downsample</FONT>')
    if "up" in directions or isinstance(net.backbone, ir.HRNet):
        legend.append(f'<FONT COLOR="{UP}">red: upsample</FONT>')
    if isinstance(net.backbone, ir.UNet):
        legend.append(f'<FONT COLOR="{SKIP}">green: skip connection</FONT>')
        if any(lv.gate is not None for lv in net.backbone.levels):
            legend.append("diamond: attention gate (dashed: its gating signal)")
    if isinstance(net.backbone, ir.HRNet) and len(net.backbone.channels) > 2:
        legend.append(f'<FONT COLOR="{SUM}">grey dashed: an earlier stage summed in</FONT>')
    legend_text = " · ".join(legend)
    label = (
        f"<<B>{e(title)}</B> — {e(kind)} · {human(total)} params"
        f'<BR/><FONT POINT-SIZE="9">{legend_text}</FONT>>'
    )
    graph = _attrs(
        label=label,
        labelloc="t",
        fontname=FONT,
        newrank="true",
        nodesep="0.35",
        ranksep="0.45",
    )
    node = _attrs(shape="box", style="rounded,filled", fontname=FONT, fontsize="10")
    d.raw(f"digraph {q(title)} {{")
    d.raw(f"  graph {graph}")
    d.raw(f"  node {node}")
    d.raw(f"  edge {_attrs(fontname=FONT, fontsize='8', color=DATA, arrowsize='0.7')}")


def cluster(d: Dot, name: str, label: str, same_rank: bool = True) -> None:
    """Open a dashed, labelled cluster (closed with ``d.raw("  }")``)."""
    d.raw(f"  subgraph {q('cluster_' + name)} {{")
    attrs = _attrs(
        label=label,
        style="rounded,dashed",
        color="#bbbbbb",
        fontsize="9",
        fontcolor="#777777",
        labeljust="l",
    )
    d.raw(f"    graph {attrs}")
    if same_rank:
        d.raw("    rank=same")
