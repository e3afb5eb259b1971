"""SOANet: stages, optional downsampling, key layout, shapes, gradients."""

from __future__ import annotations

import pytest
import torch

from blockspec.runtime.backbones import SOANet
from blockspec.runtime.block import Block

from . import factories as f


def n_params(m: torch.nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


def run(net: torch.nn.Module, shape: tuple[int, ...]) -> list[torch.Tensor]:
    net.eval()
    with torch.no_grad():
        return net(torch.randn(*shape))


@pytest.mark.parametrize("stages", [1, 2, 3, 4, 5, 6])
@pytest.mark.parametrize("d", [1, 2])
def test_shapes_with_downsampling(stages, d):
    size = (d, 64, 64)  # stage 5 of 6 sees 2x2
    net = SOANet(f.soanet(["C2"] * stages, size=size, channels=2))
    out = run(net, (1, 1, *size))
    assert isinstance(out, list) and len(out) == stages
    for s, t in enumerate(out):
        assert tuple(t.shape) == (1, 2 * 2**s, d, 64 // 2**s, 64 // 2**s)


@pytest.mark.parametrize("stages", [1, 2, 3, 4, 5, pytest.param(6, marks=pytest.mark.slow)])
def test_shapes_3d_with_downsample_depth(stages):
    n = max(8, 2**stages)  # the last stage sees 2x2x2
    size = (n, n, n)
    net = SOANet(f.soanet(["C3"] * stages, size=size, channels=2, depth=True, downsample="stride"))
    out = run(net, (1, 1, *size))
    for s, t in enumerate(out):
        assert tuple(t.shape) == (1, 2 * 2**s, *(n // 2**s,) * 3)


def test_without_downsampling_channels_follow_the_list():
    net = SOANet(
        f.soanet(["C2", "L1", "C2"], size=(1, 8, 8), channels=[3, 4, 6], downsample=None, heads=1)
    )
    out = run(net, (1, 1, 1, 8, 8))
    assert [tuple(t.shape) for t in out] == [(1, 3, 1, 8, 8), (1, 4, 1, 8, 8), (1, 6, 1, 8, 8)]
    assert not any(".down." in k for k in net.state_dict())
    assert [b.c_in for b in net.cfg.stages] == [1, 3, 4]


@pytest.mark.parametrize("hw", [8, 16, 24])
def test_dynamic_sizes(hw):
    net = SOANet(f.soanet(["L1", "L1"], size=(1, None, None), channels=4, heads=2))
    out = run(net, (1, 1, 1, hw, hw))
    assert [tuple(t.shape) for t in out] == [(1, 4, 1, hw, hw), (1, 8, 1, hw // 2, hw // 2)]


@pytest.mark.parametrize("method", ["interpolate", "stride", "merge"])
def test_key_layout_and_down_parameters(method):
    chans = [3, 5, 7]
    net = SOANet(f.soanet(["C2"] * 3, size=(1, 16, 16), channels=chans, downsample=method))
    keys = list(net.state_dict())
    assert not any(k.startswith("stage0.down") for k in keys)
    for s in (1, 2):
        a, b = chans[s - 1], chans[s]
        down = net.get_submodule(f"stage{s}.down")
        closed = {"interpolate": a * b + b, "stride": 9 * a * b + b, "merge": 4 * a * b}[method]
        assert n_params(down) == closed
        assert any(k.startswith(f"stage{s}.down.step0.conv.") for k in keys)
        assert any(k.startswith(f"stage{s}.cell0.") for k in keys)
    # every parameter has exactly one key (the original registered the downsamplers twice)
    assert len(keys) == len({id(t) for t in net.state_dict(keep_vars=True).values()})
    assert n_params(net) == sum(
        t.numel() for t in net.state_dict().values() if t.dtype.is_floating_point
    )


def test_stage_runs_down_then_block():
    torch.manual_seed(0)
    net = SOANet(f.soanet(["C2", "C2"], size=(1, 8, 8), channels=2)).eval()
    x = torch.randn(1, 1, 1, 8, 8)
    with torch.no_grad():
        y0, y1 = net(x)
        stage1 = net.get_submodule("stage1")
        torch.testing.assert_close(y1, Block.forward(stage1, stage1.down(y0)))


def test_gradients_reach_every_parameter():
    torch.manual_seed(1)
    cfg = f.soanet(["S3Sh", "V2"], size=(2, 8, 8), channels=4, heads=2, downsample="merge")
    net = SOANet(cfg).train()
    sum(t.square().mean() for t in net(torch.randn(2, 1, 2, 8, 8))).backward()
    for name, p in net.named_parameters():
        assert p.grad is not None, name
        assert torch.isfinite(p.grad).all(), name


def test_extra_repr_says_the_spec():
    r = repr(SOANet(f.soanet(["C2", "C2"], size=(1, 8, 8), channels=2, downsample="merge")))
    assert "stages=2" in r and "channels=[2, 4]" in r and "downsample=merge" in r
