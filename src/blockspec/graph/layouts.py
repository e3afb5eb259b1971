"""The three layouts: a U for a U-Net, a grid for an HR-Net, a column for a SOANet."""

from __future__ import annotations

from ..compiler import ir
from ..compiler.outputs import backbone_outputs
from .dot import DATA, DOWN, FILL, SKIP, SUM, UP, Dot, cluster, e, q, shape_text, size_text

__all__ = ["unet", "hrnet", "soanet"]


def unet(d: Dot, bb: ir.UNet) -> None:
    """The U: rows are levels (enc, gate, dec), samplers sit on rows between them."""
    src = d.stem()
    L = len(bb.levels)
    # Everything on the right (decoder) is written against the data flow with dir=back,
    # so that Graphviz ranks it top-down like the encoder and the picture closes into a U.
    for l, lv in enumerate(bb.levels):
        cluster(d, f"level{l}", f"level {l} · C {bb.channels[l]}")
        d.block(lv.enc, FILL["enc"])
        if lv.gate is not None:
            g = lv.gate
            d.node(
                g.path,
                f'<<FONT POINT-SIZE="9"><B>{e(g.path)}</B><BR/>gate · C {g.channels}'
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
    cluster(d, "bridge", f"bridge · level {L}", same_rank=False)
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
        d.raw(f"  {{ rank=same; input; {q(head)}; output }}")
    else:
        d.edge(head, top, dir="back")
        d.edge("output", head, dir="back")
        d.raw(f"  {{ rank=same; stem; {q(head)} }}")
        d.raw("  { rank=same; input; output }")


def hrnet(d: Dot, bb: ir.HRNet) -> None:
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
            f"{e(size_text(blocks[(l, l)].size))}</FONT>>",
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
        label = f"<<B>{e(text)}</B>>" if text else " "
        d.node(col[0], label, shape="plaintext", style="", fontcolor="#777777")
    for c, col in enumerate(columns):
        col += [f"_empty_l{l}_c{c}" for l in range(len(col) - 1, n)]
        for name in col:
            if name.startswith("_empty"):
                d.node(name, "", shape="point", style="invis", width="0")
        chain = " -> ".join(q(x) for x in col)
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
        f"C {total_c} · {e(size_text(bb.aggregate_size))}</FONT>>",
        fillcolor=FILL["io"],
        shape="box",
    )
    # every resampler is a node of its own on its own path, so no two labels cross
    links = [(r, blocks[(lf, s - 1)].path, blocks[(l, s)].path) for (l, s, lf), r in bb.resamplers]
    links += [(r, blocks[(lf, n - 1)].path, bb.out[l].path) for (l, lf), r in bb.fusion]
    for r, a, b in links:
        color = DOWN if r.config.direction == "down" else UP
        d.resample_node(r)
        d.edge(a, r.path, color=color, weight="0", arrowhead="none")
        d.edge(r.path, b, color=color, weight="0")
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
            f"aggregate {e(shape_text((total_c, *bb.aggregate_size)))}</FONT>>"
        )
        d.node("output", label, shape="oval", fillcolor=FILL["io"])
        d.edge("aggregate", "output")


def soanet(d: Dot, bb: ir.SOANet) -> None:
    """The column: stages one below the other, downsampling edges between them.

    With ``outputs = stage_inputs`` a downsampling's output is returned, so it is drawn as a
    node the output hangs from; `down_out` (``final_downsample``) is a node after the last
    stage. Each returned output is an oval (without a head), named with its `output_norm`."""
    prev = d.stem()
    for b in bb.stages:
        d.block(b, FILL["enc"])
    inputs = bb.outputs == "stage_inputs"
    norm = "" if bb.output_norm == "none" else f" · {bb.output_norm}"
    returned: list[str] = []
    shapes = [(c, *size) for c, size in backbone_outputs(bb)]  # maps, also with a class token

    def out(src: str, rank_with: str) -> None:
        i = len(returned)
        returned.append(src)
        if d.net.head is not None:
            return
        shape = shapes[i]
        d.io(f"out{i}", f"output {i}{norm}", shape)
        d.raw(f"  {{ rank=same; {q(rank_with)}; out{i} }}")
        d.edge(src, f"out{i}", style="dashed")

    for down, b in zip(bb.down, bb.stages):
        if down is None:
            d.edge(prev, b.path, weight="10")
            if inputs:
                out(prev, prev)
        elif inputs:
            d.resample_node(down)
            d.edge(prev, down.path, weight="10")
            d.edge(down.path, b.path, weight="10")
            out(down.path, down.path)
        else:
            d.resample_edge(down, prev, b.path, named=True, weight="10")
        if not inputs:
            out(b.path, b.path)
        prev = b.path
    if bb.final_down is not None:
        d.resample_node(bb.final_down)
        d.edge(prev, bb.final_down.path, weight="10")
        out(bb.final_down.path, bb.final_down.path)
    if d.net.head is not None:
        d.tail(returned[-1])
