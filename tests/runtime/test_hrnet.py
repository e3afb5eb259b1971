"""HR-Net of any depth: shapes, the connection rule as a graph property, fusion, counts."""

from __future__ import annotations

import pytest
import torch

from blockspec.runtime.backbones import HRNet
from blockspec.runtime.sampling import upsample

from . import factories as f


def n_params(m: torch.nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


def run(net: torch.nn.Module, shape: tuple[int, ...]) -> list[torch.Tensor]:
    net.eval()
    with torch.no_grad():
        return net(torch.randn(*shape))


def expected_shapes(chans, size, depth=False):
    d, h, w = size
    shapes = [(1, c, d // 2**l if depth else d, h // 2**l, w // 2**l) for l, c in enumerate(chans)]
    return [*shapes, (1, sum(chans), d, h, w)]


@pytest.mark.parametrize("levels", [1, 2, 3, 4, 5, 6])
@pytest.mark.parametrize("d", [1, 2])  # 2D and 2D+T
def test_shapes_2d_any_depth(levels, d):
    torch.manual_seed(0)
    size = (d, 64, 64)  # level 5 of 6 sees 2x2
    net = HRNet(f.hrnet(levels, size=size, channels=2, blocks="C2"))
    out = run(net, (1, 1, *size))
    assert [tuple(t.shape) for t in out] == expected_shapes(net.cfg.channels, size)


@pytest.mark.parametrize("levels", [1, 2, 3, 4, 5, pytest.param(6, marks=pytest.mark.slow)])
def test_shapes_3d_with_downsample_depth(levels):
    torch.manual_seed(0)
    n = max(8, 2**levels)  # level L-1 sees 2x2x2
    size = (n, n, n)
    net = HRNet(f.hrnet(levels, size=size, channels=2, blocks="C3", depth=True))
    out = run(net, (1, 1, *size))
    assert [tuple(t.shape) for t in out] == expected_shapes(net.cfg.channels, size, depth=True)


@pytest.mark.parametrize("hw", [16, 32])
def test_dynamic_sizes(hw):
    net = HRNet(f.hrnet(2, size=(1, None, None), channels=4, blocks="L1", heads=2))
    out = run(net, (1, 1, 1, hw, 2 * hw))
    assert [tuple(t.shape) for t in out] == expected_shapes((4, 8), (1, hw, 2 * hw))


def expected_sources(l: int, s: int) -> set[tuple[int, int]]:
    """SEMANTICS.md: (l, s') for l <= s' < s, and (l', s-1) for l' < l."""
    return {(l, s2) for s2 in range(l, s)} | {(l2, s - 1) for l2 in range(l)}


@pytest.mark.parametrize("levels", [2, 3, 4])
def test_connection_rule_is_the_graph(levels):
    """Which block outputs feed which block's input, read off the autograd graph.

    Every block's output is replaced by ``out.detach() + z`` with a zero leaf ``z`` of its own,
    so a block input depends on ``z_(l', s')`` only when (l', s') feeds it directly.
    """
    torch.manual_seed(0)
    net = HRNet(f.hrnet(levels, size=(1, 16, 16), channels=2, blocks="C2")).eval()
    leaves: dict[tuple[int, int], torch.Tensor] = {}
    inputs: dict[tuple[int, int], torch.Tensor] = {}
    fusion_in: dict[int, torch.Tensor] = {}

    def cut(key):
        def hook(_m, args, out):
            inputs[key] = args[0]
            z = torch.zeros_like(out, requires_grad=True)
            leaves[key] = z
            return out.detach() + z

        return hook

    blocks = [(l, s) for s in range(levels) for l in range(s + 1)]
    for l, s in blocks:
        net.stage(l, s).register_forward_hook(cut((l, s)))
    for l in range(levels):
        out_block = net.fusion.get_submodule(f"level{l}.out")
        out_block.register_forward_pre_hook(lambda _m, a, l=l: fusion_in.__setitem__(l, a[0]))
    net(torch.randn(1, 1, 1, 16, 16))

    def feeders(t: torch.Tensor) -> set[tuple[int, int]]:
        keys = [k for k in blocks if k in leaves]
        if not t.requires_grad:
            return set()
        grads = torch.autograd.grad(
            t.sum(), [leaves[k] for k in keys], allow_unused=True, retain_graph=True
        )
        return {k for k, g in zip(keys, grads, strict=True) if g is not None and g.abs().sum() > 0}

    assert set(inputs) == set(blocks)
    for l, s in blocks:
        assert feeders(inputs[(l, s)]) == (set() if (l, s) == (0, 0) else expected_sources(l, s))
        # same-level outputs are added as they are (coefficient exactly 1)
        for s2 in range(l, s):
            (g,) = torch.autograd.grad(inputs[(l, s)].sum(), leaves[(l, s2)], retain_graph=True)
            assert torch.equal(g, torch.ones_like(g))
    last = levels - 1
    for l in range(levels):  # the fusion of level l sums every level's last-stage output
        assert feeders(fusion_in[l]) == {(l2, last) for l2 in range(levels)}


def test_stage_input_is_the_documented_sum():
    """Numerically: input(l, s) = sum of same-level outputs + from{l'}(output (l', s-1))."""
    torch.manual_seed(1)
    net = HRNet(f.hrnet(3, size=(1, 16, 16), channels=3, blocks="C2")).eval()
    outs, ins = {}, {}
    for s in range(3):
        for l in range(s + 1):

            def hook(_m, args, out, key=(l, s)):
                ins[key], outs[key] = args[0], out

            net.stage(l, s).register_forward_hook(hook)
    with torch.no_grad():
        net(torch.randn(1, 1, 1, 16, 16))
        for s in range(1, 3):
            for l in range(s + 1):
                stage = net.stage(l, s)
                want = sum(outs[(l, s2)] for s2 in range(l, s))
                want = want + sum(
                    stage.get_submodule(f"from{l2}")(outs[(l2, s - 1)]) for l2 in range(l)
                )
                torch.testing.assert_close(ins[(l, s)], want)


def test_key_layout_and_resampler_shapes():
    chans = (2, 3, 5)
    net = HRNet(f.hrnet(3, size=(1, 16, 16), channels=list(chans), blocks="C2"))
    keys = set(net.state_dict())
    for s in range(3):
        for l in range(s + 1):
            assert any(k.startswith(f"level{l}.stage{s}.cell0.") for k in keys)
            for l2 in range(l) if s > 0 else ():
                r = net.stage(l, s).get_submodule(f"from{l2}")
                # down l - l2 steps, step i mapping C_{l2+i} -> C_{l2+i+1}: conv1 with bias
                assert r.steps == l - l2
                pairs = zip(chans[l2:l], chans[l2 + 1 : l + 1], strict=True)
                assert n_params(r) == sum(a * b + b for a, b in pairs)
    assert not any(k.startswith("level0.stage0.from") for k in keys)
    assert not any(k.startswith("level1.stage0") or k.startswith("level2.stage1") for k in keys)
    for l in range(3):
        fus = net.fusion.get_submodule(f"level{l}")
        for l2 in range(3):
            if l2 == l:
                assert not hasattr(fus, f"from{l2}")
                continue
            r = fus.get_submodule(f"from{l2}")
            if l2 > l:  # one upsampling x2^(l2-l), conv1 C_l2 -> C_l
                assert r.cfg.factor == 2 ** (l2 - l)
                assert n_params(r) == chans[l2] * chans[l] + chans[l]
            else:
                pairs = zip(chans[l2:l], chans[l2 + 1 : l + 1], strict=True)
                assert n_params(r) == sum(a * b + b for a, b in pairs)
        assert any(k.startswith(f"fusion.level{l}.out.cell0.") for k in keys)


@pytest.mark.parametrize(
    ("mode", "depth"), [("linear", False), ("nearest", False), ("linear", True)]
)
def test_fusion_and_aggregate(mode, depth):
    """y_l = out_l(sum of resampled last-stage outputs); aggregate = cat of y_l at full size."""
    torch.manual_seed(2)
    size = (8, 8, 8) if depth else (1, 16, 16)
    blocks = "C3" if depth else "C2"
    net = HRNet(f.hrnet(3, size=size, channels=2, blocks=blocks, upsample=mode, depth=depth))
    net.eval()
    last = {}
    for l in range(3):
        net.stage(l, 2).register_forward_hook(lambda _m, _a, out, l=l: last.__setitem__(l, out))
    with torch.no_grad():
        *ys, agg = net(torch.randn(1, 1, *size))
        for l in range(3):
            fus = net.fusion.get_submodule(f"level{l}")
            total = last[l] + sum(
                fus.get_submodule(f"from{j}")(last[j]) for j in range(3) if j != l
            )
            torch.testing.assert_close(ys[l], fus.out(total))
        want = torch.cat([ys[0]] + [upsample(ys[l], 2**l, mode, depth) for l in (1, 2)], dim=1)
        torch.testing.assert_close(agg, want)


def test_gradients_reach_every_parameter():
    torch.manual_seed(3)
    net = HRNet(f.hrnet(3, size=(2, 16, 16), channels=4, blocks="T1L1G1", heads=2)).train()
    out = net(torch.randn(2, 1, 2, 16, 16))
    sum(t.square().mean() for t in out).backward()
    for name, p in net.named_parameters():
        assert p.grad is not None, name
        assert torch.isfinite(p.grad).all(), name


def test_extra_repr_says_the_spec():
    net = HRNet(f.hrnet(2, size=(1, 16, 16), channels=4, blocks="C2", downsample="stride"))
    r = repr(net)
    assert "levels=2" in r and "channels=[4, 8]" in r and "downsample=stride" in r
    assert "inputs: (0, 0) via from0" in repr(net.stage(1, 1))


def test_missing_resampler_is_rejected():
    cfg = f.hrnet(2, size=(1, 16, 16), channels=4, blocks="C2")
    bad = type(cfg)(**{**cfg.__dict__, "resamplers": ()})
    with pytest.raises(ValueError, match="needs resamplers from levels"):
        HRNet(bad)
