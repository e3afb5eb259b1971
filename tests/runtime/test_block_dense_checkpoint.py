"""Blocks: cell names and channels, dense connections, checkpointing (same outputs and
gradients), seeds, and torch.export at a static size."""

from __future__ import annotations

import pytest
import torch

from blockspec.runtime.block import Block
from blockspec.runtime.config import BlockConfig

from .param_counts import (
    cfg_for,
    expected_cell_params,
    n_params,
    one_thread,  # noqa: F401  (autouse fixture)
)


def block_cfg(codes: list[str], c_in: int = 4, c_out: int = 8, **kw) -> BlockConfig:
    dense = kw.pop("dense", False)
    ckpt = kw.pop("checkpoint", False)
    cells = tuple(
        cfg_for(code, c_in=c_in if i == 0 else c_out, c_out=c_out, **kw)
        for i, code in enumerate(codes)
    )
    return BlockConfig(text="".join(codes), cells=cells, dense=dense, checkpoint=ckpt)


def test_cells_are_named_in_order_with_channels():
    cfg = block_cfg(["T1", "L1", "G0"])
    block = Block(cfg)
    assert [name for name, _ in block.named_children()] == ["cell0", "cell1", "cell2"]
    assert block.cell0.cfg.c_in == 4 and block.cell1.cfg.c_in == 8
    assert hasattr(block.cell0, "proj") and block.cell0.proj is not None
    assert block.cell1.proj is None
    assert n_params(block) == sum(expected_cell_params(c) for c in cfg.cells)
    assert "cell1.attn.pos_table" in block.state_dict()
    assert "T1L1G0" in repr(block)


def test_dense_feeds_each_cell_the_sum_of_earlier_outputs():
    torch.manual_seed(0)
    block = Block(block_cfg(["L1", "C2", "T1", "G1"], dense=True)).eval()
    x = torch.randn(2, 4, 4, 8, 8)
    o0 = block.cell0(x)
    o1 = block.cell1(o0)
    o2 = block.cell2(o0 + o1)
    o3 = block.cell3(o0 + o1 + o2)
    torch.testing.assert_close(block(x), o3)
    plain = Block(block_cfg(["L1", "C2", "T1", "G1"])).eval()
    plain.load_state_dict(block.state_dict())
    torch.testing.assert_close(plain(x), block.cell3(block.cell2(block.cell1(o0))))


@pytest.mark.parametrize("dense", [False, True])
def test_checkpoint_gives_the_same_outputs_and_gradients(dense):
    torch.manual_seed(0)
    kw = dict(dense=dense, dropout=0.3, att_dropout=0.2, norm="batch2d")
    plain = Block(block_cfg(["L1", "T1", "S3", "C2"], **kw)).train()
    ckpt = Block(block_cfg(["L1", "T1", "S3", "C2"], checkpoint=True, **kw)).train()
    ckpt.load_state_dict(plain.state_dict())
    x = torch.randn(3, 4, 4, 8, 8)
    results = []
    for block in (plain, ckpt):
        xi = x.clone().requires_grad_(True)
        torch.manual_seed(123)  # same drop-path / dropout draws
        y = block(xi)
        y.square().mean().backward()
        grads = {n: p.grad.clone() for n, p in block.named_parameters()}
        results.append((y.detach(), xi.grad, grads))
    (y0, gx0, g0), (y1, gx1, g1) = results
    torch.testing.assert_close(y1, y0)
    torch.testing.assert_close(gx1, gx0)
    assert g0.keys() == g1.keys()
    for name in g0:
        torch.testing.assert_close(g1[name], g0[name], msg=name)
    # running statistics are updated once per forward either way (recomputation restores them)
    buffers = dict(plain.named_buffers())
    for name, buf in ckpt.named_buffers():
        torch.testing.assert_close(buf, buffers[name], msg=name)


def test_checkpoint_is_off_in_eval_and_without_grad():
    torch.manual_seed(0)
    block = Block(block_cfg(["L1"], checkpoint=True)).eval()
    x = torch.randn(1, 4, 4, 8, 8)
    with torch.no_grad():
        y = block(x)
    assert y.shape == (1, 8, 4, 8, 8)


def test_same_seed_same_weights():
    codes = ["T1", "L1", "G1", "S3", "Sh", "V2", "C3"]

    def build(seed):
        torch.manual_seed(seed)
        return Block(block_cfg(codes, attention="lin", mixer="lin")).state_dict()

    a, b, c = build(0), build(0), build(1)
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)


def test_block_exports_at_a_static_size():
    """No data-dependent control flow: torch.export traces a block at its static size."""
    torch.manual_seed(0)
    block = Block(block_cfg(["L1", "G1", "T1", "Sh"], size=(4, 8, 8))).eval()
    x = torch.randn(1, 4, 4, 8, 8)
    program = torch.export.export(block, (x,))
    torch.testing.assert_close(program.module()(x), block(x))


@pytest.mark.slow
def test_compiled_checkpoint_block_matches_eager():
    """torch.compile traces a checkpointed block in one graph, with the same outputs,
    gradients and batch-norm statistics as the eager block without checkpointing."""
    torch.manual_seed(0)
    ref = Block(block_cfg(["L1", "Sh", "C2"], norm="batch2d")).train()
    blk = Block(block_cfg(["L1", "Sh", "C2"], norm="batch2d", checkpoint=True)).train()
    blk.load_state_dict(ref.state_dict())
    x = torch.randn(2, 4, 4, 8, 8)
    compiled = torch.compile(blk, backend="aot_eager", fullgraph=True)
    y = compiled(x)
    y.square().mean().backward()
    y0 = ref(x)
    y0.square().mean().backward()
    torch.testing.assert_close(y, y0)
    grads = {n: p.grad for n, p in ref.named_parameters()}
    for name, p in blk.named_parameters():
        torch.testing.assert_close(p.grad, grads[name], msg=name)
    buffers = dict(ref.named_buffers())
    for name, buf in blk.named_buffers():
        torch.testing.assert_close(buf, buffers[name], msg=name)
