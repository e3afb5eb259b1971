"""The whole network: input check, stem -> backbone -> head, key layout, seeds."""

from __future__ import annotations

import pytest
import torch

from blockspec.errors import ShapeError, SpecError
from blockspec.runtime.config import HeadConfig, StemConfig
from blockspec.runtime.network import build_network

from . import factories as f


def test_unet_with_stem_and_head_keys_and_shapes():
    # stem: 3 channels at 32x32 -> 6 channels at 16x16; U-Net on 16x16; conv head to 2
    stem = StemConfig(c_in=3, c_out=6, patch=(2, 2, 1), norm="channel_layer", size=(2, 16, 16))
    backbone = f.unet(2, size=(2, 16, 16), c_in=6, channels=4, blocks="L1", heads=2)
    cfg = f.network(
        backbone, channels=3, size=(2, 32, 32), stem=stem, head=HeadConfig("conv", 4, 2)
    )
    net = build_network(cfg, seed=0).eval()
    keys = list(net.state_dict())
    assert keys[:2] == ["stem.conv.weight", "stem.conv.bias"]
    assert keys[-2:] == ["head.conv.weight", "head.conv.bias"]
    assert "level0.enc.cell0.attn.q.weight" in keys and "bridge.cell0.attn.q.weight" in keys
    assert not any(k.startswith("backbone") for k in keys)
    with torch.no_grad():
        y = net(torch.randn(2, 3, 2, 32, 32))
    assert y.shape == (2, 2, 2, 16, 16)  # heads see the backbone's output size


def test_head_on_a_list_output_uses_the_last_element():
    torch.manual_seed(0)
    backbone = f.hrnet(2, size=(1, 8, 8), channels=2, blocks="C2")  # aggregate: 2 + 4 channels
    cfg = f.network(backbone, channels=1, size=(1, 8, 8), head=HeadConfig("conv", 6, 3))
    net = build_network(cfg).eval()
    x = torch.randn(1, 1, 1, 8, 8)
    with torch.no_grad():
        y = net(x)
        feats = net.features(x)
    assert isinstance(y, torch.Tensor) and y.shape == (1, 3, 1, 8, 8)
    torch.testing.assert_close(y, net.head(feats[-1]))


def test_classify_head_on_soanet():
    backbone = f.soanet(["C2", "C2"], size=(1, 8, 8), channels=2)
    cfg = f.network(backbone, channels=1, size=(1, 8, 8), head=HeadConfig("classify", 4, 5))
    net = build_network(cfg).eval()
    with torch.no_grad():
        assert net(torch.randn(3, 1, 1, 8, 8)).shape == (3, 5)
    assert "head.fc.weight" in net.state_dict()


def test_without_head_the_backbone_output_is_returned():
    cfg = f.network(f.soanet(["C2", "C2"], size=(1, 8, 8), channels=2), channels=1, size=(1, 8, 8))
    net = build_network(cfg).eval()
    with torch.no_grad():
        out = net(torch.randn(1, 1, 1, 8, 8))
    assert isinstance(out, list) and len(out) == 2
    assert net.stem is None and net.head is None


@pytest.fixture
def static_net():
    cfg = f.network(f.unet(2, size=(1, 16, 16), channels=2), channels=2, size=(1, 16, 16))
    return build_network(cfg)


@pytest.fixture
def dynamic_net():
    # H dynamic with step 32 and minimum 64; W static 16; D dynamic with step 1
    backbone = f.unet(2, size=(None, None, 16), channels=2)
    cfg = f.network(
        backbone, channels=1, size=(None, None, 16), step=(1, 32, 1), minimum=(1, 64, 1)
    )
    return build_network(cfg)


def test_wrong_channels(static_net):
    with pytest.raises(ShapeError, match=r"C = 3 channels; the network takes C = 2") as e:
        static_net(torch.randn(1, 3, 1, 16, 16))
    assert isinstance(e.value, SpecError)


@pytest.mark.parametrize(("shape", "axis"), [((1, 2, 2, 16, 16), "D"), ((1, 2, 1, 16, 8), "W")])
def test_wrong_static_size(static_net, shape, axis):
    n = shape[2 + "DHW".index(axis)]
    want = 1 if axis == "D" else 16
    with pytest.raises(ShapeError, match=rf"{axis} = {n} .*; {axis} must be {want}"):
        static_net(torch.randn(*shape))


def test_wrong_rank(static_net):
    with pytest.raises(ShapeError, match=r"5D tensor \[B, C, D, H, W\]"):
        static_net(torch.randn(1, 2, 16, 16))


def test_dynamic_size_not_a_multiple(dynamic_net):
    msg = "H = 100 is not a multiple of 32; H must be a multiple of 32 and at least 64"
    with pytest.raises(ShapeError) as e:
        dynamic_net(torch.randn(1, 1, 1, 100, 16))
    assert e.value.message == msg


def test_dynamic_size_too_small(dynamic_net):
    with pytest.raises(ShapeError, match="H = 32 is too small; H must be a multiple of 32 and at"):
        dynamic_net(torch.randn(1, 1, 1, 32, 16))


@pytest.mark.parametrize(("d", "h"), [(1, 64), (3, 96), (2, 128)])
def test_dynamic_sizes_that_fit_run(dynamic_net, d, h):
    with torch.no_grad():
        assert dynamic_net.eval()(torch.randn(1, 1, d, h, 16)).shape == (1, 2, d, h, 16)


def test_check_runs_before_any_module():
    """The input check fails fast: no module's forward is entered for a bad input."""
    cfg = f.network(f.unet(1, size=(1, 8, 8), channels=2), channels=1, size=(1, 8, 8))
    net = build_network(cfg)
    entered = []
    for m in net.modules():
        if m is not net:
            m.register_forward_pre_hook(lambda mod, _a: entered.append(mod))
    with pytest.raises(ShapeError):
        net(torch.randn(1, 1, 1, 8, 6))
    assert entered == []


def test_same_seed_same_weights_whole_network():
    stem = StemConfig(c_in=1, c_out=4, patch=(2, 2, 1), norm=None, size=(1, 8, 8))
    backbone = f.hrnet(2, size=(1, 8, 8), c_in=4, channels=4, blocks="L1G1", heads=2)
    cfg = f.network(
        backbone, channels=1, size=(1, 16, 16), stem=stem, head=HeadConfig("classify", 12, 3)
    )
    a = build_network(cfg, seed=3).state_dict()
    b = build_network(cfg, seed=3).state_dict()
    c = build_network(cfg, seed=4).state_dict()
    assert list(a) == list(b) and all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)
    # building under a seed leaves the global generator alone
    torch.manual_seed(11)
    before = torch.rand(1)
    torch.manual_seed(11)
    build_network(cfg, seed=3)
    assert torch.equal(torch.rand(1), before)


def test_unknown_backbone_config():
    cfg = f.network(f.unet(1, size=(1, 8, 8)), channels=1, size=(1, 8, 8))
    bad = type(cfg)(input=cfg.input, backbone=object())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="unknown backbone config"):
        build_network(bad)
