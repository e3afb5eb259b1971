"""U-Net of any depth: shapes, names, parameter counts, the gate, gradients, seeds."""

from __future__ import annotations

import pytest
import torch

from blockspec.runtime.backbones import Gate, UNet
from blockspec.runtime.network import build_network

from . import factories as f


def n_params(m: torch.nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


def run(net: torch.nn.Module, shape: tuple[int, ...]) -> torch.Tensor:
    net.eval()
    with torch.no_grad():
        return net(torch.randn(*shape))


@pytest.mark.parametrize("levels", [1, 2, 3, 4, 5, 6])
@pytest.mark.parametrize("d", [1, 3])  # 2D and 2D+T
def test_shapes_2d_any_depth(levels, d):
    torch.manual_seed(0)
    size = (d, 128, 128)  # the bridge of 6 levels sees 2x2
    net = UNet(f.unet(levels, size=size, c_in=1, channels=2, blocks="C2"))
    assert run(net, (1, 1, *size)).shape == (1, 2, *size)
    assert [f"level{l}" for l in range(levels)] == [
        n for n, _ in net.named_children() if n.startswith("level")
    ]


@pytest.mark.parametrize("levels", [1, 2, 3, 4, 5, pytest.param(6, marks=pytest.mark.slow)])
def test_shapes_3d_with_downsample_depth(levels):
    torch.manual_seed(0)
    n = max(8, 2 ** (levels + 1))  # L halvings of D, H and W leave 2x2x2 at the bridge
    size = (n, n, n)
    cfg = f.unet(levels, size=size, channels=2, blocks="C3", depth=True)
    net = UNet(cfg)
    assert run(net, (1, 1, *size)).shape == (1, 2, *size)
    assert cfg.bridge.cells[0].size == (n // 2**levels,) * 3


@pytest.mark.parametrize("method", ["interpolate", "stride", "merge"])
@pytest.mark.parametrize("up", ["linear", "nearest"])
def test_every_resampling_method(method, up):
    size = (2, 16, 16)
    net = UNet(f.unet(3, size=size, channels=3, blocks="C2", downsample=method, upsample=up))
    assert run(net, (2, 1, *size)).shape == (2, 3, *size)


@pytest.mark.parametrize("hw", [16, 32, 48])
def test_dynamic_sizes(hw):
    """Cell sizes None: the same module runs at every multiple of the step M = 2^L * window."""
    torch.manual_seed(0)
    cfg = f.unet(
        2, size=(2, None, None), channels=4, blocks="L1T1", window=(4, 4, 1), heads=2
    )  # M = 2^2 * 4 = 16
    assert cfg.enc[1].cells[0].size == (2, None, None)
    assert cfg.enc[1].cells[0].window == (4, 4, 1)  # used as written on a dynamic axis
    net = UNet(cfg)
    assert run(net, (1, 1, 2, hw, hw)).shape == (1, 4, 2, hw, hw)
    assert run(net, (1, 1, 2, hw, 2 * hw)).shape == (1, 4, 2, hw, 2 * hw)


def test_attention_blocks_and_key_names():
    torch.manual_seed(0)
    cfg = f.unet(3, size=(2, 16, 16), channels=4, blocks="T1L1G1", heads=2, window=(4, 4, 1))
    net = UNet(cfg)
    keys = set(net.state_dict())
    for l in range(3):
        assert f"level{l}.enc.cell0.attn.q.weight" in keys
        assert f"level{l}.down.step0.conv.weight" in keys
        assert f"level{l}.up.conv.weight" in keys
        for g in ("up", "skip", "psi"):
            assert f"level{l}.gate.{g}.weight" in keys
        assert f"level{l}.dec.cell2.attn.q.weight" in keys
    assert "bridge.cell0.attn.q.weight" in keys
    assert not any(k.startswith(("backbone.", "level3")) for k in keys)
    assert run(net, (1, 1, 2, 16, 16)).shape == (1, 4, 2, 16, 16)


@pytest.mark.parametrize("gate", [True, False])
def test_parameter_count_is_blocks_plus_closed_forms(gate):
    chans = [3, 5, 7]
    cfg = f.unet(3, size=(1, 16, 16), channels=chans, blocks="C2", gate=gate)
    net = UNet(cfg)
    blocks = sum(n_params(net.level(l).enc) + n_params(net.level(l).dec) for l in range(3))
    blocks += n_params(net.bridge)
    down = sum(c * c + c for c in chans)  # conv1 C_l -> C_l with bias, one step per level
    up = sum(c * c + c for c in chans)  # conv1 C_l -> C_l with bias
    gates = sum(2 * (c * c + c) + c + 1 for c in chans) if gate else 0  # up, skip, psi
    assert n_params(net) == blocks + down + up + gates
    for l, c in enumerate(chans):
        assert n_params(net.level(l).down) == c * c + c
        assert n_params(net.level(l).up) == c * c + c
        if gate:
            assert n_params(net.level(l).gate) == 2 * (c * c + c) + c + 1
        else:
            assert net.level(l).gate is None
            assert not any(".gate." in k for k in net.state_dict())


def test_block_channels_follow_the_levels():
    chans = (3, 5, 7)
    net = UNet(f.unet(3, size=(1, 16, 16), c_in=2, channels=list(chans), blocks="C2"))
    c = net.cfg
    assert [b.c_in for b in c.enc] == [2, 3, 5]
    assert [b.c_out for b in c.enc] == [3, 5, 7]
    assert [b.c_in for b in c.dec] == [6, 10, 14]
    assert [b.c_out for b in c.dec] == [3, 3, 5]
    assert (c.bridge.c_in, c.bridge.c_out) == (7, 7)


def test_gate_formula():
    torch.manual_seed(1)
    gate = Gate(4)
    u, s = torch.randn(2, 4, 1, 6, 6), torch.randn(2, 4, 1, 6, 6)

    def conv1(conv: torch.nn.Conv3d, x: torch.Tensor) -> torch.Tensor:
        w = conv.weight.flatten(1)
        return torch.einsum("oc,bcdhw->bodhw", w, x) + conv.bias.view(1, -1, 1, 1, 1)

    g = torch.sigmoid(conv1(gate.psi, torch.relu(conv1(gate.up, u) + conv1(gate.skip, s))))
    assert g.shape == (2, 1, 1, 6, 6)
    torch.testing.assert_close(gate.coefficients(u, s), g)
    torch.testing.assert_close(gate(u, s), s * g)


@pytest.mark.parametrize("gate", [True, False])
def test_decoder_sees_gated_skip_then_upsampled(gate):
    """dec(l) gets cat([skip * g, up(deeper)]): checked with hooks on the running network."""
    torch.manual_seed(2)
    net = UNet(f.unet(2, size=(1, 8, 8), channels=2, blocks="C2", gate=gate)).eval()
    seen: dict[str, torch.Tensor] = {}

    def keep(name: str):
        def hook(_m, args, out):
            seen[name + ".in"] = args[0]
            seen[name + ".out"] = out

        return hook

    for l in range(2):
        lvl = net.level(l)
        for part in ("enc", "up", "dec"):
            getattr(lvl, part).register_forward_hook(keep(f"{l}.{part}"))
    net.bridge.register_forward_hook(keep("bridge"))
    with torch.no_grad():
        net(torch.randn(1, 1, 1, 8, 8))
    for l in range(2):
        skip, u = seen[f"{l}.enc.out"], seen[f"{l}.up.out"]
        deeper = seen["bridge.out"] if l == 1 else seen["1.dec.out"]
        assert torch.equal(seen[f"{l}.up.in"], deeper)
        if gate:
            skip = skip * net.level(l).gate.coefficients(u, skip)
        torch.testing.assert_close(seen[f"{l}.dec.in"], torch.cat([skip, u], dim=1))
        if l == 1:  # the encoder of level 1 sees level 0's skip downsampled
            torch.testing.assert_close(seen["1.enc.in"], net.level(0).down(seen["0.enc.out"]))


@pytest.mark.parametrize(
    ("blocks", "size", "depth"),
    [("C2", (2, 16, 16), False), ("T1L1G1", (2, 16, 16), False), ("C3", (8, 8, 8), True)],
)
def test_gradients_reach_every_parameter(blocks, size, depth):
    torch.manual_seed(3)
    net = UNet(f.unet(2, size=size, channels=4, blocks=blocks, heads=2, depth=depth))
    net.train()
    net(torch.randn(2, 1, *size)).square().mean().backward()
    for name, p in net.named_parameters():
        assert p.grad is not None, name
        assert torch.isfinite(p.grad).all(), name


def test_same_seed_same_weights():
    cfg = f.network(
        f.unet(3, size=(1, 16, 16), channels=4, blocks="L1G1", heads=2),
        channels=1,
        size=(1, 16, 16),
    )
    a, b = build_network(cfg, seed=7).state_dict(), build_network(cfg, seed=7).state_dict()
    c = build_network(cfg, seed=8).state_dict()
    assert list(a) == list(b)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert any(not torch.equal(a[k], c[k]) for k in a if a[k].is_floating_point())


def test_extra_repr_says_the_spec():
    net = UNet(f.unet(3, size=(1, 16, 16), channels=4, blocks="C2", downsample="merge"))
    r = repr(net)
    assert "levels=3" in r and "channels=[4, 8, 16]" in r and "downsample=merge" in r
    assert "gate=True" in r


def test_inconsistent_config_is_rejected():
    cfg = f.unet(2, size=(1, 16, 16), channels=4, blocks="C2")
    bad = type(cfg)(**{**cfg.__dict__, "enc": cfg.enc[:1]})
    with pytest.raises(ValueError, match="one enc, down, up and dec per level"):
        UNet(bad)
