"""Graphviz DOT for a network, laid out as its backbone's shape (`blockspec graph`).

* U-Net: a U. The encoder runs down the left, the bridge sits at the bottom, the decoder runs
  up the right; each level is one row (a cluster), with its skip connection drawn across and
  the attention gate (a diamond) on it. Down- and up-samplers are small nodes between rows.
* HR-Net: a grid. Levels are rows, stages are columns (clusters), then a fusion column and
  the aggregate. Resamplers are coloured edges (blue down, red up) named by their path.
* SOANet: a column: input, stem, the stages with their downsampling edges, head, output.

Every block shows its path, block string, channels, spatial size (D×H×W) and parameters.
The text is plain DOT with HTML labels; nothing here needs Graphviz to be installed.
"""

from __future__ import annotations

import html
import re

from .compiler import ir
from .compiler.budget import human
from .compiler.infer import NodeStats

__all__ = ["to_dot"]

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


def _q(s: str) -> str:
    """A DOT quoted identifier."""
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _e(s: object) -> str:
    """Text escaped for a DOT HTML label."""
    return html.escape(str(s), quote=True)


def _size(size: tuple) -> str:
    return "×".join(str(a) for a in size)


def _shape(shape: tuple) -> str:
    return "[" + ", ".join(str(a) for a in shape) + "]"


def _attrs(**kw: object) -> str:
    parts = []
    for k, v in kw.items():
        if v is None:
            continue
        text = str(v)
        parts.append(f"{k}={text}" if text.startswith("<") else f"{k}={_q(text)}")
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


def _count(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _channels(c_in: int, c_out: int) -> str:
    return f"C {c_in}" if c_in == c_out else f"C {c_in}→{c_out}"


class _Dot:
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
        self.lines.append(f"{indent}{_q(name)} {_attrs(label=label, **kw)}")

    def edge(self, a: str, b: str, indent: str = "  ", **kw: object) -> None:
        self.lines.append(f"{indent}{_q(a)} -> {_q(b)} {_attrs(**kw)}".rstrip())

    def raw(self, line: str) -> None:
        self.lines.append(line)

    # -- labels -------------------------------------------------------------------------
    def block(self, b: ir.Block, fill: str, indent: str = "    ") -> None:
        text = "<BR/>".join(f'<FONT FACE="{MONO}">{_e(t)}</FONT>' for t in _wrap(b.text))
        facts = f"{_channels(b.c_in, b.c_out)} · {_e(_size(b.size))}"
        label = (
            f"<<B>{_e(b.path)}</B><BR/>{text}<BR/>"
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
            f'<<FONT POINT-SIZE="9"><B>{_e(r.path)}</B><BR/>{_e(self.resample_text(r))} · '
            f"{_channels(c.channels[0], c.channels[-1])}<BR/>"
            f"{_e(_size(r.size_out))}</FONT>>"
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
        name = f"<B>{_e(r.path)}</B><BR/>" if named else ""
        label = (
            f'<<FONT POINT-SIZE="8" COLOR="{color}">{name}{_e(self.resample_text(r))}<BR/>'
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
        label = f'<<B>{_e(title)}</B><BR/><FONT POINT-SIZE="9">{_e(_shape(shape))}</FONT>>'
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
            f"<<B>stem</B><BR/>patch {_e(list(c.patch))} · norm {_e(c.norm or 'none')}<BR/>"
            f'<FONT POINT-SIZE="9">{_channels(c.c_in, c.c_out)} · {_e(_size(s.size_out))}</FONT>'
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
            f"<<B>head</B> ({_e(c.kind)})<BR/>"
            f'<FONT POINT-SIZE="9">{_e(what)} · C {c.c_in}→{c.n}</FONT><BR/>'
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


def _header(d: _Dot, title: str, kind: str) -> None:
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
        f"<<B>{_e(title)}</B> — {_e(kind)} · {human(total)} params"
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
    d.raw(f"digraph {_q(title)} {{")
    d.raw(f"  graph {graph}")
    d.raw(f"  node {node}")
    d.raw(f"  edge {_attrs(fontname=FONT, fontsize='8', color=DATA, arrowsize='0.7')}")


def _cluster(d: _Dot, name: str, label: str, same_rank: bool = True) -> None:
    """Open a dashed, labelled cluster (closed with ``d.raw("  }")``)."""
    d.raw(f"  subgraph {_q('cluster_' + name)} {{")
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


def _unet(d: _Dot, bb: ir.UNet) -> None:
    """The U: rows are levels (enc, gate, dec), samplers sit on rows between them."""
    src = d.stem()
    L = len(bb.levels)
    # Everything on the right (decoder) is written against the data flow with dir=back,
    # so that Graphviz ranks it top-down like the encoder and the picture closes into a U.
    for l, lv in enumerate(bb.levels):
        _cluster(d, f"level{l}", f"level {l} · C {bb.channels[l]}")
        d.block(lv.enc, FILL["enc"])
        if lv.gate is not None:
            g = lv.gate
            d.node(
                g.path,
                f'<<FONT POINT-SIZE="9"><B>{_e(g.path)}</B><BR/>gate · C {g.channels}'
                f"<BR/>{d.params(g.path)}</FONT>>",
                "    ",
                shape="diamond",
                style="filled",
                fillcolor=FILL["gate"],
                margin="0.02",
            )
        d.block(lv.dec, FILL["dec"])
        d.raw("  }")
        d.raw(f"  subgraph samplers{l} {{ rank=same")
        d.resample_node(lv.down, "    ")
        d.resample_node(lv.up, "    ")
        d.edge(lv.down.path, lv.up.path, "    ", style="invis", weight="0")
        d.raw("  }")
    _cluster(d, "bridge", f"bridge · level {L}", same_rank=False)
    d.block(bb.bridge, FILL["bridge"])
    d.raw("  }")
    # encoder, down the left
    d.edge(src, bb.levels[0].enc.path)
    for l, lv in enumerate(bb.levels):
        nxt = bb.levels[l + 1].enc.path if l + 1 < L else bb.bridge.path
        d.edge(lv.enc.path, lv.down.path, weight="8")
        d.edge(lv.down.path, nxt, weight="8")
    # decoder, up the right (written top-down, drawn bottom-up)
    for l, lv in enumerate(bb.levels):
        deeper = bb.levels[l + 1].dec.path if l + 1 < L else bb.bridge.path
        d.edge(lv.up.path, deeper, dir="back", weight="8")
        d.edge(lv.dec.path, lv.up.path, dir="back", weight="8")
        # the skip connection across the row, through the gate
        skip = dict(color=SKIP, penwidth="1.6", fontcolor=SKIP)
        if lv.gate is not None:
            d.edge(lv.enc.path, lv.gate.path, label="skip", **skip)
            d.edge(lv.gate.path, lv.dec.path, label="skip · g", **skip)
            d.edge(
                lv.gate.path,
                lv.up.path,
                dir="back",
                style="dashed",
                color=UP,
                constraint="false",
                tooltip=f"{lv.up.path} output gates the skip",
            )
        else:
            d.edge(lv.enc.path, lv.dec.path, label="skip (concat)", **skip)
    # input enters top left; the head and the output leave top right
    top = bb.levels[0].dec.path
    head = d.head()
    if head is None:
        row = d.stats.get(top)
        d.io("output", "output", row.out_shape if row else ())
        d.edge("output", top, dir="back")
        d.raw("  { rank=same; input; output }")
    elif d.net.stem is None:
        d.edge(head, top, dir="back")
        d.edge(head, "output")
        d.raw(f"  {{ rank=same; input; {_q(head)}; output }}")
    else:
        d.edge(head, top, dir="back")
        d.edge("output", head, dir="back")
        d.raw(f"  {{ rank=same; stem; {_q(head)} }}")
        d.raw("  { rank=same; input; output }")


def _hrnet(d: _Dot, bb: ir.HRNet) -> None:
    """The grid: rows are levels, columns are stages, then fusion and aggregate.

    Grid cells without a block (level l starts at stage l) hold invisible points, and every
    row is one chain of heavy edges, so Graphviz keeps the rows straight and in order.
    """
    d.raw("  rankdir=LR")
    n = len(bb.channels)
    blocks = dict(bb.blocks)

    def cell(l: int, s: int) -> str:
        return blocks[(l, s)].path if s >= l else f"_empty_l{l}_s{s}"

    d.raw("  subgraph rows {")
    for l in range(n):
        d.node(
            f"level{l}",
            f'<<B>level {l}</B><BR/><FONT POINT-SIZE="9">C {bb.channels[l]} · '
            f"{_e(_size(blocks[(l, l)].size))}</FONT>>",
            "    ",
            shape="plaintext",
            style="",
        )
    d.raw("  }")
    src = d.stem()
    columns = [[f"level{l}" for l in range(n)], ["input"]]
    if d.net.stem is not None:
        columns.append([src])
    for s in range(n):
        for l in range(s + 1):
            d.block(blocks[(l, s)], FILL["enc"])
        columns.append([cell(l, s) for l in range(n)])
    for b in bb.out:
        d.block(b, FILL["fusion"])
    columns.append([b.path for b in bb.out])
    # a header row above the grid names the columns
    heads = ["", ""] + ([""] if d.net.stem is not None else [])
    heads += [f"stage {s}" for s in range(n)] + ["fusion"]
    for c, (col, text) in enumerate(zip(columns, heads)):
        col.insert(0, f"_header_c{c}")
        label = f"<<B>{_e(text)}</B>>" if text else " "
        d.node(col[0], label, shape="plaintext", style="", fontcolor="#777777")
    for c, col in enumerate(columns):
        col += [f"_empty_l{l}_c{c}" for l in range(len(col) - 1, n)]
        for name in col:
            if name.startswith("_empty"):
                d.node(name, "", shape="point", style="invis", width="0")
        chain = " -> ".join(_q(x) for x in col)
        d.raw(f'  {{ rank=same; {chain} [style="invis"] }}')
    # rows: one straight chain per level; data edges where both ends are blocks
    data = {(src, blocks[(0, 0)].path)}
    for l in range(n):
        data.add((blocks[(l, n - 1)].path, bb.out[l].path))
        for s in range(l + 1, n):
            data.add((blocks[(l, s - 1)].path, blocks[(l, s)].path))
    for r in range(n + 1):  # the header row, then one row per level
        row = [col[r] for col in columns]
        for a, b in zip(row, row[1:]):
            if (a, b) == ("input", src):
                continue  # drawn by d.stem()
            if (a, b) in data:
                d.edge(a, b, weight="100")
            else:
                d.edge(a, b, style="invis", weight="100")
    for l in range(n):
        for s in range(l + 1, n):
            for s2 in range(l, s - 1):  # earlier blocks of the level are summed in too
                d.edge(
                    blocks[(l, s2)].path,
                    blocks[(l, s)].path,
                    style="dashed",
                    color=SUM,
                    weight="0",
                    tooltip=f"{blocks[(l, s2)].path} is summed into {blocks[(l, s)].path}",
                )
    total_c = sum(bb.channels)
    d.node(
        "aggregate",
        f'<<B>aggregate</B><BR/><FONT POINT-SIZE="9">concat, upsampled to level 0<BR/>'
        f"C {total_c} · {_e(_size(bb.aggregate_size))}</FONT>>",
        fillcolor=FILL["io"],
        shape="box",
    )
    for (l, s, lf), r in bb.resamplers:
        d.resample_edge(r, blocks[(lf, s - 1)].path, blocks[(l, s)].path, weight="0")
    for (l, lf), r in bb.fusion:
        d.resample_edge(r, blocks[(lf, n - 1)].path, bb.out[l].path, weight="0")
    for l, b in enumerate(bb.out):
        label = "" if l == 0 else f"↑{2**l} {bb.upsample}"
        d.edge(b.path, "aggregate", label=label, color=UP if l else DATA, fontcolor=UP)
    if d.net.head is not None:
        d.tail("aggregate")
    else:
        outs = ", ".join(f"y{l}" for l in range(n))
        label = (
            f"<<B>output</B>: a list<BR/>"
            f'<FONT POINT-SIZE="9">[{outs}, aggregate]<BR/>'
            f"aggregate {_e(_shape((total_c, *bb.aggregate_size)))}</FONT>>"
        )
        d.node("output", label, shape="oval", fillcolor=FILL["io"])
        d.edge("aggregate", "output")


def _soanet(d: _Dot, bb: ir.SOANet) -> None:
    """The column: stages one below the other, downsampling edges between them."""
    prev = d.stem()
    for b in bb.stages:
        d.block(b, FILL["enc"])
    for s, (down, b) in enumerate(zip(bb.down, bb.stages)):
        if down is not None:
            d.resample_edge(down, prev, b.path, named=True, weight="10")
        else:
            d.edge(prev, b.path, weight="10")
        if d.net.head is None:
            row = d.stats.get(b.path)
            d.io(f"out{s}", f"output {s}", row.out_shape if row else ())
            d.raw(f"  {{ rank=same; {_q(b.path)}; out{s} }}")
            d.edge(b.path, f"out{s}", style="dashed")
        prev = b.path
    if d.net.head is not None:
        d.tail(prev)


def to_dot(net: ir.Network, title: str | None = None) -> str:
    """The DOT text of `net`'s architecture picture; `title` defaults to the spec's file."""
    from .api import summary

    rows = list(summary(net).rows)
    d = _Dot(net, rows)
    bb = net.backbone
    name = title if title is not None else net.file
    if isinstance(bb, ir.UNet):
        kind = f"U-Net, {_count(len(bb.levels), 'level')}"
        _header(d, name, kind)
        _unet(d, bb)
    elif isinstance(bb, ir.HRNet):
        kind = f"HR-Net, {_count(len(bb.channels), 'level')}"
        _header(d, name, kind)
        _hrnet(d, bb)
    else:
        kind = f"SOANet, {_count(len(bb.stages), 'stage')}"
        _header(d, name, kind)
        _soanet(d, bb)
    d.raw("}")
    return "\n".join(line for line in d.lines if line) + "\n"
