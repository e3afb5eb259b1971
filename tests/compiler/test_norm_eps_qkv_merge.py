"""The compiler's side of `norm_eps`, `qkv_bias` (cell keys) and `downsample_norm` (backbone
key): predicted parameter counts and FLOPs equal the module's, every misuse is a located
error with a hint, and Swin-T gains exactly its published merge norms."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch import nn

import blockspec as bs
from blockspec.errors import SpecError, SpecValueError
from blockspec.testing.properties import check_valid_spec
from torch_flops import counted_flops

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def spec(cell: str = "", backbone: str = "", kind: str = "soanet", stages: str = "") -> str:
    body = {
        "soanet": f"channels = 8, stages = [{stages or chr(34) + 'S3' + chr(34)}]",
        "unet": 'channels = 8, levels = 2, blocks = ["C2"]',
        "hrnet": 'channels = 8, levels = 2, blocks = ["C2"]',
    }[kind]
    return (
        "input { channels = 2, D = 1, H = 16, W = 16 }\n"
        f"cell {{ window = [4, 4, 1], patch = [1, 1, 1], heads = 2, {cell} }}\n"
        f"backbone {kind} {{ {body}{', ' + backbone if backbone else ''} }}\n"
    )


def params(text: str) -> int:
    return bs.summary(bs.parse(text)).totals.params


def check(text: str) -> None:
    check_valid_spec(SimpleNamespace(text=text))  # type: ignore[arg-type]


# ---------------------------------------------------------------- the predicted counts
@pytest.mark.parametrize(
    "text",
    [
        spec("norm = channel_layer, norm_eps = 1e-6", stages='"S3", "L1C2"'),
        spec("norm = batch2d, norm_eps = 0.01", stages='"T1", "C3"'),
        spec("attention = lin, mixer = lin, qkv_bias = false", stages='"S3", "L1", "V2"'),
        spec("attention = conv, qkv_bias = false", stages='"S3", "G1", "T1"'),
        spec(backbone="downsample = merge, downsample_norm = channel_layer", stages='"C2", "C2"'),
        spec(backbone="downsample = merge, downsample_norm = channel_layer, "
             "downsample_depth = true", stages='"C3", "C3"').replace("D = 1", "D = 4"),
        spec(backbone="downsample = merge, downsample_norm = channel_layer", kind="unet"),
        spec(backbone="downsample = merge, downsample_norm = channel_layer", kind="hrnet"),
        spec(backbone="downsample = merge, downsample_norm = none", kind="hrnet"),
    ],
)  # fmt: skip
def test_predicted_counts_equal_the_module(text: str) -> None:
    check(text)


def test_qkv_bias_false_drops_3c_per_lin_attention_cell_of_one_voxel_tokens() -> None:
    """|token| = 1 (S3, and L with patch 1): each attention cell loses 3 * C_out parameters."""
    stages = '"S3S3", "L1"'
    base = "attention = lin, mixer = lin"
    on = params(spec(base, "downsample = merge", stages=stages))
    off = params(spec(base + ", qkv_bias = false", "downsample = merge", stages=stages))
    assert on - off == 3 * 8 + 3 * 8 + 3 * 16  # two S3 cells at C = 8, one L1 at C = 16


def test_qkv_bias_and_norm_eps_are_inert_on_conv_cells() -> None:
    text = spec(stages='"C2", "C3"')
    keyed = text.replace("heads = 2,", "heads = 2, qkv_bias = false, norm_eps = 0.5,")
    assert params(text) == params(keyed)
    cell_cfgs = [c.config for c in bs.parse(keyed).cells()]
    # an inert key reads as its default
    assert len(cell_cfgs) == 2 and all(c.qkv_bias for c in cell_cfgs)
    assert all(c.norm_eps == 0.5 for c in cell_cfgs)  # the conv core's norm has an eps


def test_norm_eps_reaches_every_norm_module() -> None:
    text = spec("norm = channel_layer, norm_eps = 1e-6", stages='"S3", "L1C2"')
    model = bs.compile(text)
    eps = {m.eps for m in model.modules() if isinstance(m, nn.LayerNorm)}
    assert eps == {1e-6}
    per_stage = text.replace('"L1C2"]', '"L1C2"], stage 1 { norm_eps = 0.001 }')
    model = bs.compile(per_stage)
    eps = {n: m.eps for n, m in model.named_modules() if isinstance(m, nn.LayerNorm)}
    assert {e for n, e in eps.items() if n.startswith("stage0.")} == {1e-6}
    assert {e for n, e in eps.items() if n.startswith("stage1.")} == {1e-3}
    override = bs.compile(spec(stages='"S3(norm_eps=0.5)S3"'))
    got = [m.eps for m in override.stage0.modules() if isinstance(m, nn.InstanceNorm2d)]
    assert got == [0.5, 0.5, 1e-5, 1e-5]


def test_downsample_norm_module_names_and_order() -> None:
    model = bs.compile(spec(backbone="downsample = merge, downsample_norm = channel_layer",
                            stages='"C2", "C2"'))  # fmt: skip
    keys = [k for k in model.state_dict() if ".down." in k]
    assert keys == ["stage1.down.step0.norm.weight", "stage1.down.step0.norm.bias",
                    "stage1.down.step0.conv.weight"]  # fmt: skip
    assert model.stage1.down.step0.norm.weight.shape == (4 * 8,)


def test_swin_t_merge_norms_hold_exactly_their_parameters() -> None:
    normed = (ROOT / "examples" / "swin_t.bspec").read_text()  # timm's Swin-T, exactly
    line = "  downsample_norm = channel_layer\n"
    assert line in normed
    plain = normed.replace(line, "")
    before, after = params(plain), params(normed)
    # one LayerNorm(4 C) (weight and bias) in each of the three mergings, C = 96, 192, 384
    assert after - before == sum(2 * 4 * c for c in (96, 192, 384)) == 5_376
    assert after == 28_288_354  # the published count


# ------------------------------------------------------------------------------ FLOPs
def _counted(model: nn.Module, x: torch.Tensor) -> int:
    return counted_flops(model, x)[0]


def test_flops_of_conv_networks_with_the_keys_equal_torchs_counter() -> None:
    """C2/C3 networks are counted fully by torch (no fused attention kernel): predicted ==
    counted, with the merge norm, norm_eps (norms cost no FLOPs either way)."""
    merge = "downsample = merge, downsample_norm = channel_layer"
    text = spec("norm = channel_layer, norm_eps = 1e-3", merge, stages='"C2", "C2C2"')
    x = torch.randn(1, 2, 1, 16, 16)
    assert bs.summary(bs.parse(text)).totals.flops == _counted(bs.compile(text), x)


@pytest.mark.parametrize("attention", ["lin", "conv"])
def test_the_keys_change_neither_predicted_nor_counted_flops(attention: str) -> None:
    """Biases and norms are not multiply-adds: both sides stay where they were, and equal."""
    plain = spec(f"attention = {attention}, mixer = lin", "downsample = merge",
                 stages='"S3", "L1", "T1"')  # fmt: skip
    keyed = spec(f"attention = {attention}, mixer = lin, qkv_bias = false, norm_eps = 0.01",
                 "downsample = merge, downsample_norm = channel_layer",
                 stages='"S3", "L1", "T1"')  # fmt: skip
    x = torch.randn(1, 2, 1, 16, 16)
    torch.manual_seed(0)
    predicted = bs.summary(bs.parse(keyed)).totals.flops
    assert predicted == bs.summary(bs.parse(plain)).totals.flops
    assert predicted == _counted(bs.compile(keyed), x) == _counted(bs.compile(plain), x)


# ------------------------------------------------------------------- a property test
@st.composite
def keyed_specs(draw) -> str:
    kind = draw(st.sampled_from(["soanet", "unet", "hrnet"]))
    code = draw(st.sampled_from(["S3", "L1", "G0", "V2", "T1", "C2", "Sh"]))
    cell = [f"attention = {draw(st.sampled_from(['lin', 'conv']))}"]
    cell.append(f"norm = {draw(st.sampled_from(['channel_layer', 'instance2d', 'batch2d']))}")
    if draw(st.booleans()):
        cell.append(f"norm_eps = {draw(st.sampled_from(['1e-6', '0.001', '0.5', '2']))}")
    if draw(st.booleans()):
        cell.append(f"qkv_bias = {draw(st.sampled_from(['true', 'false']))}")
    merge = draw(st.booleans())
    bb = ["downsample = merge" if merge else "downsample = stride"]
    if merge:
        bb.append(f"downsample_norm = {draw(st.sampled_from(['none', 'channel_layer']))}")
    depth = draw(st.booleans())
    if depth:
        bb.append("downsample_depth = true")
    text = spec(", ".join(cell), ", ".join(bb), kind, f'"{code}", "{code}"')
    if kind != "soanet":
        text = text.replace('["C2"]', f'["{code}"]')
    return text.replace("D = 1", "D = 8" if depth else "D = 2")


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(keyed_specs())
def test_property_prediction_equals_module(text: str) -> None:
    check(text)


# ---------------------------------------------------------------------------- misuse
def _error(text: str) -> SpecError:
    with pytest.raises(SpecError) as info:
        bs.parse(text)
    return info.value


def _at(err: SpecError, text: str, snippet: str) -> None:
    """The error points at the first `snippet` of the text."""
    line = next(i for i, ln in enumerate(text.splitlines(), 1) if snippet in ln)
    column = text.splitlines()[line - 1].index(snippet) + 1
    assert (err.span.line, err.span.column) == (line, column)


@pytest.mark.parametrize(
    "kind, backbone, how",
    [
        ("unet", "downsample = stride, downsample_norm = channel_layer", "downsample = stride"),
        ("hrnet", "downsample_norm = channel_layer", "downsample = interpolate"),
        ("soanet", "downsample = interpolate, downsample_norm = channel_layer", "interpolate"),
        ("soanet", "downsample = false, downsample_norm = channel_layer", "no downsampling"),
    ],
)
def test_downsample_norm_without_merge_is_a_located_error(kind, backbone, how) -> None:
    text = spec(backbone=backbone, kind=kind)
    err = _error(text)
    assert isinstance(err, SpecValueError)
    assert "needs downsample = merge" in err.message and how in err.message
    assert "downsample = merge" in (err.hint or "")
    _at(err, text, "channel_layer")  # the value of downsample_norm


def test_downsample_norm_of_an_unknown_name() -> None:
    text = spec(backbone="downsample = merge, downsample_norm = chanel_layer")
    err = _error(text)
    assert "unknown downsample_norm 'chanel_layer'" in err.message
    assert "channel_layer" in (err.hint or "")
    _at(err, text, "chanel_layer")


@pytest.mark.parametrize(
    "value, says",
    [("0", "norm_eps must be in (0, inf), not 0"), ("-1e-6", "norm_eps must be in (0, inf)"),
     ("true", "norm_eps must be a number"), ("layer", "norm_eps must be a number")],
)  # fmt: skip
def test_norm_eps_misuse(value: str, says: str) -> None:
    text = spec(f"norm_eps = {value}")
    err = _error(text)
    assert says in err.message and err.hint
    _at(err, text, value + " }")


def test_qkv_bias_misuse() -> None:
    text = spec("qkv_bias = 0")
    err = _error(text)
    assert "qkv_bias must be true or false" in err.message
    _at(err, text, "0 }")
    text = spec(stages='"C2(qkv_bias=false)"')
    err = _error(text)
    assert "'qkv_bias' has no effect on a C2 cell" in err.message and err.hint
    _at(err, text, "qkv_bias=false")


def test_norm_eps_as_a_level_key_of_a_unet() -> None:
    """Cell keys (the new ones too) work in a level entry."""
    text = spec(kind="unet", backbone="level 1 { norm_eps = 0.125, qkv_bias = false }")
    check(text)
    model = bs.compile(text)
    got = {m.eps for m in model.level1.enc.modules() if isinstance(m, nn.InstanceNorm2d)}
    assert got == {0.125}
