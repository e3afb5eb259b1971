"""Cells: parameter counts per SEMANTICS.md for every code, layout, attention and mixer kind;
names; the `0` cells; causality of a T cell; sizes at run time; norms, activations, mixers,
drop-path."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
import torch
import torch.nn.functional as F

from blockspec.errors import ShapeError, SpecValueError
from blockspec.runtime.activations import build_activation
from blockspec.runtime.attention import build_core
from blockspec.runtime.cell import Cell
from blockspec.runtime.layers import DropPath
from blockspec.runtime.mixers import LinMixer
from blockspec.runtime.norms import build_norm

from .param_counts import (
    cfg_for,
    expected_cell_params,
    n_params,
    norm_params,
    one_thread,  # noqa: F401  (autouse fixture)
)

ALL_CODES = ["L1", "L0", "G1", "G0", "T1", "T0", "F1", "L3", "G3", "V2", "V3", "S3", "Sh",
             "C2", "C3"]  # fmt: skip


def backward_reaches_every_parameter(module: torch.nn.Module, y: torch.Tensor) -> None:
    y.square().mean().backward()
    for name, p in module.named_parameters():
        assert p.grad is not None, name
        assert torch.isfinite(p.grad).all(), name


@pytest.mark.parametrize("c_in", [4, 8])
@pytest.mark.parametrize("mixer", ["conv", "lin"])
@pytest.mark.parametrize("attention", ["conv", "lin"])
@pytest.mark.parametrize("code", ALL_CODES)
def test_sequential_cell_count_shape_gradients(code, attention, mixer, c_in):
    torch.manual_seed(0)
    cfg = cfg_for(code, attention=attention, mixer=mixer, c_in=c_in)
    cell = Cell(cfg).train()
    assert n_params(cell) == expected_cell_params(cfg)
    y = cell(torch.randn(2, c_in, 4, 8, 8))
    assert y.shape == (2, 8, 4, 8, 8)
    backward_reaches_every_parameter(cell, y)


@pytest.mark.parametrize("mixer", ["conv", "lin"])
@pytest.mark.parametrize("code", ["L1", "G0", "T1", "V3", "Sh", "C2", "C3"])
def test_parallel_cell_count_shape_gradients(code, mixer):
    torch.manual_seed(0)
    cfg = cfg_for(code, layout="parallel", mixer=mixer, attention="lin")
    cell = Cell(cfg).train()
    assert n_params(cell) == expected_cell_params(cfg)
    assert cell.norm2 is None
    y = cell(torch.randn(2, 4, 4, 8, 8))
    assert y.shape == (2, 8, 4, 8, 8)
    backward_reaches_every_parameter(cell, y)


def test_parallel_cell_computes_the_documented_sum():
    torch.manual_seed(0)
    cell = Cell(cfg_for("L1", layout="parallel", norm="channel_layer")).eval()
    x = torch.randn(1, 4, 4, 8, 8)
    n = cell.norm1(x)
    torch.testing.assert_close(cell(x), cell.proj(x) + cell.attn(n) + cell.mixer(n))


def test_sequential_cell_computes_the_documented_chain():
    torch.manual_seed(0)
    cell = Cell(cfg_for("G1", norm="batch2d", c_in=8)).eval()
    x = torch.randn(2, 8, 4, 8, 8)
    y = x + cell.attn(cell.norm1(x))
    torch.testing.assert_close(cell(x), y + cell.mixer(cell.norm2(y)))


@pytest.mark.parametrize("norm", ["layer", "channel_layer", "batch2d", "instance2d", "batch3d",
                                  "instance3d"])  # fmt: skip
@pytest.mark.parametrize("code", ["L1", "C2", "S3"])
def test_cell_counts_for_every_norm(code, norm):
    torch.manual_seed(0)
    cfg = cfg_for(code, norm=norm)
    cell = Cell(cfg).train()
    assert n_params(cell) == expected_cell_params(cfg)
    y = cell(torch.randn(2, 4, 4, 8, 8))
    backward_reaches_every_parameter(cell, y)


@pytest.mark.parametrize("activation", ["elu", "relu", "leakyrelu", "prelu", "relu6", "selu",
                                        "celu", "gelu"])  # fmt: skip
def test_cell_counts_for_every_activation(activation):
    cfg = cfg_for("C2", activation=activation, mixer_ratio=1.5)
    assert n_params(Cell(cfg)) == expected_cell_params(cfg)


def test_state_dict_names_follow_the_contract():
    keys = set(Cell(cfg_for("L1")).state_dict())
    convs = ["proj", "attn.q", "attn.k", "attn.v", "attn.out", "mixer.fc1", "mixer.fc2"]
    want = {f"{c}.{w}" for c in convs for w in ("weight", "bias")}
    assert keys == want | {"attn.tau", "attn.pos_table", "mixer.act.weight"}
    keys = set(Cell(cfg_for("C3", c_in=8, norm="batch3d")).state_dict())
    assert "core.conv.weight" in keys and "core.norm.weight" in keys
    assert "norm1.weight" in keys and "norm2.running_mean" in keys
    assert not any(k.startswith(("attn.", "proj.")) for k in keys)


@pytest.mark.parametrize("code", ["L0", "G0", "T0", "F0"])
def test_zero_cells_have_no_mixer(code):
    torch.manual_seed(0)
    cfg = cfg_for(code, norm="batch2d")
    cell = Cell(cfg)
    assert cell.mixer is None and cell.norm2 is None
    assert not any("mixer" in k or "norm2" in k for k in cell.state_dict())
    assert "mixer" not in dict(cell.named_children())
    assert n_params(cell) == expected_cell_params(cfg)
    cell.eval()
    x = torch.randn(1, 4, 4, 8, 8)
    torch.testing.assert_close(cell(x), cell.proj(x) + cell.attn(cell.norm1(x)))


@pytest.mark.parametrize("norm", ["instance2d", "layer", "channel_layer"])
def test_causal_temporal_cell_ignores_future_frames(norm):
    torch.manual_seed(0)
    cfg = cfg_for("T1", causal=True, norm=norm, size=(5, 8, 8), dropout=0.0)
    cell = Cell(cfg).double().eval()
    x = torch.randn(2, 4, 5, 8, 8, dtype=torch.float64)
    y = cell(x)
    for t in range(4):
        x2 = x.clone()
        x2[:, :, t + 1 :] += torch.randn_like(x2[:, :, t + 1 :])
        y2 = cell(x2)
        torch.testing.assert_close(y2[:, :, : t + 1], y[:, :, : t + 1])
        assert not torch.allclose(y2[:, :, t + 1 :], y[:, :, t + 1 :])
    # without causal, the first frame does see the last one
    open_cell = Cell(cfg_for("T1", norm=norm, size=(5, 8, 8))).double().eval()
    x2 = x.clone()
    x2[:, :, 4] += torch.randn_like(x2[:, :, 4])
    assert not torch.allclose(open_cell(x2)[:, :, 0], open_cell(x)[:, :, 0])


# ---- sizes at run time -----------------------------------------------------------------------
@pytest.mark.parametrize("code", ["L1", "T1", "S3", "C2"])
def test_conv_attention_cells_run_on_other_sizes(code):
    torch.manual_seed(0)
    cfg = cfg_for(code, size=(1, 16, 16), window=(8, 8, 1), temporal_stride=(2, 2))
    cell = Cell(cfg)
    for h, w in [(16, 16), (24, 24), (8, 32)]:
        assert cell(torch.randn(1, 4, 1, h, w)).shape == (1, 8, 1, h, w)
    if code != "C2":
        with pytest.raises(ShapeError):
            cell(torch.randn(1, 4, 1, 20, 20 if code != "T1" else 21))


def test_position_biased_global_cell_needs_its_size():
    cell = Cell(cfg_for("G1", size=(1, 16, 16), window=(8, 8, 1)))
    assert cell(torch.randn(1, 4, 1, 16, 16)).shape == (1, 8, 1, 16, 16)
    with pytest.raises(ShapeError, match="16"):
        cell(torch.randn(1, 4, 1, 24, 24))
    unbiased = Cell(cfg_for("G1", size=(1, None, None), window=(8, 8, 1), rel_pos_bias=False))
    assert unbiased(torch.randn(1, 4, 1, 24, 24)).shape == (1, 8, 1, 24, 24)


def test_layer_norm_cell_needs_its_size():
    cell = Cell(cfg_for("C2", norm="layer", size=(1, 8, 8)))
    assert cell(torch.randn(1, 4, 1, 8, 8)).shape == (1, 8, 1, 8, 8)
    with pytest.raises(ShapeError, match="layer"):
        cell(torch.randn(1, 4, 1, 16, 8))
    with pytest.raises(ShapeError, match="static"):
        build_norm("layer", 4, (1, None, 8))


def test_lin_mixer_rejects_sizes_its_tokens_do_not_divide():
    mixer = LinMixer(2, 4, 2, "relu", token=(2, 2, 1))
    with pytest.raises(ShapeError, match="token"):
        mixer(torch.randn(1, 2, 1, 3, 4))


# ---- norms, activations, mixers, drop-path ---------------------------------------------------
def test_norms_compute_what_semantics_says():
    torch.manual_seed(0)
    x = torch.randn(2, 3, 4, 5, 6, dtype=torch.float64) * 3 + 1
    frames = x.transpose(1, 2).reshape(8, 3, 5, 6)

    def back(t):
        return t.reshape(2, 4, 3, 5, 6).transpose(1, 2)

    inst = build_norm("instance2d", 3, (4, 5, 6)).double()
    torch.testing.assert_close(inst(x), back(F.instance_norm(frames)))
    bn = build_norm("batch2d", 3, (4, 5, 6)).double().train()
    torch.testing.assert_close(bn(x), back(F.batch_norm(frames, None, None, training=True)))
    ln = build_norm("layer", 3, (4, 5, 6)).double()
    torch.testing.assert_close(ln(x), back(F.layer_norm(frames, (3, 5, 6))))
    cl = build_norm("channel_layer", 3, (4, 5, 6)).double()
    want = F.layer_norm(x.movedim(1, -1), (3,)).movedim(-1, 1)
    torch.testing.assert_close(cl(x), want)
    torch.testing.assert_close(build_norm("instance3d", 3, (4, 5, 6))(x), F.instance_norm(x))
    for kind in ["layer", "channel_layer", "batch2d", "instance2d", "batch3d", "instance3d"]:
        assert n_params(build_norm(kind, 3, (4, 5, 6))) == norm_params(kind, 3, (4, 5, 6))


def test_activations():
    x = torch.linspace(-3, 3, 13)
    prelu = build_activation("prelu")
    assert n_params(prelu) == 1 and prelu.weight.item() == 0.25
    torch.testing.assert_close(build_activation("leakyrelu")(x), F.leaky_relu(x, 0.1))
    torch.testing.assert_close(build_activation("gelu")(x), F.gelu(x, approximate="tanh"))
    for name in ["elu", "relu", "relu6", "selu", "celu"]:
        torch.testing.assert_close(build_activation(name)(x), getattr(F, name)(x))


def test_lin_mixer_works_per_token_with_channels_outermost():
    torch.manual_seed(0)
    mixer = LinMixer(2, 3, 2, "relu", token=(2, 2, 1)).double()
    x = torch.randn(1, 2, 1, 4, 4, dtype=torch.float64)
    y = mixer(x)
    token = x[0, :, 0, 2:4, 0:2].reshape(-1)  # features ordered (c, ph, pw)
    want = mixer.fc2(torch.relu(mixer.fc1(token))).reshape(2, 2, 2)
    torch.testing.assert_close(y[0, :, 0, 2:4, 0:2], want)


def test_drop_path_drops_whole_samples():
    torch.manual_seed(0)
    dp = DropPath(0.5).train()
    y = dp(torch.ones(64, 2, 1, 2, 2))
    per_sample = y.flatten(1)
    assert set(per_sample.unique().tolist()) <= {0.0, 2.0}
    assert (per_sample.min(1).values == per_sample.max(1).values).all()
    assert 10 < int((per_sample[:, 0] == 0).sum()) < 54
    dp.eval()
    assert torch.equal(dp(torch.ones(3, 1)), torch.ones(3, 1))


def test_mixer_hidden_width_is_floored():
    cfg = cfg_for("L1", mixer_ratio=2.7, c_in=8)
    cell = Cell(cfg)
    assert cell.mixer.fc1.out_channels == math.floor(2.7 * 8) == 21


def test_extra_repr_shows_the_spec():
    text = repr(Cell(cfg_for("Sh", heads=4, window=(4, 4, 2))))
    assert "code=Sh" in text and "heads=4" in text and "window=(4, 4, 2)" in text


def test_unknown_names_are_spec_value_errors():
    with pytest.raises(SpecValueError, match="norm"):
        build_norm("group", 4, (1, 8, 8))
    with pytest.raises(SpecValueError, match="activation"):
        build_activation("swish")
    with pytest.raises(SpecValueError, match="family"):
        build_core(replace(cfg_for("L1"), family="X"))
