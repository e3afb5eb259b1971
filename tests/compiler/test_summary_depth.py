"""`summary` at a depth expands blocks into cells and cells into submodules (like torchinfo),
scales FLOPs and memory by batch and dtype, and states the parameter split and size."""

from __future__ import annotations

import pytest
import torch

import blockspec as bs
from blockspec.compiler.summary import rows_at_depth

SPEC = (
    "input { channels = 1, D = 2, H = 16, W = 16 }\n"
    "cell { window = [4, 4, 1], heads = 2 }\n"
    'backbone unet { channels = 4, levels = 1, blocks = ["T1L1"] }\n'
)


def _modules(model: torch.nn.Module) -> dict[str, int]:
    return {n: sum(p.numel() for p in m.parameters()) for n, m in model.named_modules() if n}


def test_cell_and_submodule_rows_match_the_compiled_modules():
    s = bs.summary(SPEC)
    model = bs.compile(SPEC)
    counts = _modules(model)
    cells = [r for r in rows_at_depth(s, 3) if r[1].startswith("cell ")]
    parts = [r for r in rows_at_depth(s, 4) if r[0].count(".") == 3]
    assert [r[0] for r in cells] == [
        "level0.enc.cell0", "level0.enc.cell1", "bridge.cell0", "bridge.cell1",
        "level0.dec.cell0", "level0.dec.cell1",
    ]  # fmt: skip
    for path, _, _, st in cells + parts:
        assert st.params == counts[path], path  # every row is a real module, counted right
    names = {p[0].rsplit(".", 1)[1] for p in parts}
    assert names == {"proj", "norm1", "attn", "norm2", "mixer"}
    # the module-level rows still sum to the total; cell rows sum to their blocks
    assert sum(r.stats.params for r in s.rows) == s.totals.params
    assert sum(st.params for _, _, _, st in cells) == sum(
        r.stats.params for r in s.rows if r.kind.startswith("block")
    )
    for depth in (1, 2, 3, 4, 5):
        rows = rows_at_depth(s, depth)
        paths = [r[0] for r in rows]
        leaves = [r for r in rows if not any(p.startswith(r[0] + ".") for p in paths)]
        assert sum(st.flops for *_, st in leaves) == s.totals.flops, depth  # a cell row
        assert sum(st.memory for *_, st in leaves) == s.totals.memory, depth  # totals its parts


def test_batch_and_dtype_scale_flops_and_memory_not_params():
    s = bs.summary(SPEC)
    one, big = s.to_dict(), s.to_dict(batch=4, dtype="bfloat16")
    assert big["totals"]["params"] == one["totals"]["params"]
    assert big["totals"]["flops"] == 4 * one["totals"]["flops"]
    assert big["totals"]["memory_bytes"] == 2 * one["totals"]["memory_bytes"]  # 4 x 2/4
    assert big["totals"]["params_bytes"] == 2 * one["totals"]["params"]
    table = s.table(batch=4, dtype="bfloat16")
    assert "batch 4" in table and "bfloat16 training activations" in table
    assert f"parameters: {s.totals.params:,} trainable, 0 frozen" in s.table()


def test_depth_below_one_is_refused():
    with pytest.raises(ValueError):
        bs.summary(SPEC).table(depth=0)


def test_a_dynamic_summary_names_the_size_its_figures_are_for():
    text = SPEC.replace("H = 16, W = 16", "H = ?, W = ?")
    s = bs.summary(text)
    assert s.to_dict()["figures_at"] == [1, 2, 8, 8]
    assert "smallest valid input [1, 2, 8, 8]" in s.table()


def test_graph_lists_cells_at_depth_3_and_for_soanet_by_default():
    from blockspec.graph import to_dot

    unet = bs.parse(SPEC)
    assert "cell0 T1" not in to_dot(unet)
    assert "cell0 T1 · 1→4" in to_dot(unet, depth=3)
    soa = bs.parse(
        SPEC.replace("unet", "soanet").replace('levels = 1, blocks = ["T1L1"]', 'stages = ["T1L1"]')
    )
    assert "cell1 L1" in to_dot(soa) and "cell1 L1" not in to_dot(soa, depth=2)


def test_hrnet_resamplers_are_nodes_each_on_its_own_path():
    from blockspec.graph import to_dot

    net = bs.parse(
        "input { channels = 1, D = 1, H = 16, W = 16 }\n"
        'backbone hrnet { channels = 4, levels = 3, blocks = ["C2"] }\n'
    )
    dot = to_dot(net)
    paths = [r.path for _, r in net.backbone.resamplers] + [r.path for _, r in net.backbone.fusion]
    for p in paths:
        assert sum(line.startswith(f'  "{p}" [') for line in dot.splitlines()) == 1  # a node
        assert dot.count(f'-> "{p}"') == 1 and dot.count(f'"{p}" ->') == 1  # in and out once
