"""Multi-scale outputs, property-tested: a U-Net with deep supervision, a head per output
on every backbone, and timm's features_only/out_indices keep the compiler's promise (the
compiled module's parameters and output shapes are what the inference says)."""

from __future__ import annotations

import dataclasses
import re

from hypothesis import given, settings
from hypothesis import strategies as st

import blockspec as bs
from blockspec.compiler.outputs import feature_info, output_shapes
from blockspec.testing.properties import check_valid_spec
from blockspec.testing.strategies import specs

from ._helpers import scaled


def _with(text: str, section: str, entry: str) -> str:
    """`text` with `entry` added at the start of the first `section ... {` block."""
    m = re.search(rf"^{section}\b[^{{\n]*\{{", text, re.M)
    assert m is not None, text
    return text[: m.end()] + f"\n  {entry}\n" + text[m.end() :]


def _per_output_head(text: str) -> str:
    if re.search(r"^head\b", text, re.M):
        return _with(text, "head", "per_output = true")
    return text + "\nhead conv { out_channels = 2, per_output = true }\n"


@settings(scaled(0.5))
@given(specs(backbone="unet", max_cells=4))
def test_deep_supervision_keeps_the_promise(spec):
    text = _with(spec.text, "backbone unet", "deep_supervision = true")
    net = bs.parse(text)
    levels = len(net.backbone.levels)
    shapes = output_shapes(net)
    assert len(shapes) == (1 if net.head is not None else levels)
    check_valid_spec(dataclasses.replace(spec, text=text))
    info = feature_info(net)
    assert [f["module"] for f in info] == [f"level{l}.dec" for l in reversed(range(levels))]


@settings(scaled(0.5))
@given(specs(max_cells=4))
def test_a_head_per_output_keeps_the_promise(spec):
    text = _per_output_head(spec.text)
    if "backbone unet" in text:
        text = _with(text, "backbone unet", "deep_supervision = true")
    net = bs.parse(text)
    assert net.head is None and len(net.heads) == len(feature_info(net)) >= 1
    assert [h.path for h in net.heads] == [f"heads.{i}" for i in range(len(net.heads))]
    check_valid_spec(dataclasses.replace(spec, text=text))


@settings(scaled(0.5))
@given(specs(max_cells=4), st.data())
def test_features_only_returns_the_selected_outputs(spec, data):
    net = bs.parse(spec.text)
    n = len(feature_info(net))
    picked = data.draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=n, unique=True))
    model = bs.compile(net, features_only=True, out_indices=picked)
    assert model.ir.head is None and not model.ir.heads
    assert [f["module"] for f in model.feature_info] == [
        feature_info(net)[i]["module"] for i in picked
    ]
    params = sum(p.numel() for p in model.parameters())
    assert params == bs.summary(model.ir).totals.params
    x = bs.example_input(model)
    outs = model.eval()(x)
    outs = outs if isinstance(outs, list) else [outs]
    want = [f["num_chs"] for f in model.feature_info]
    assert [o.shape[1] for o in outs] == want


@settings(scaled(0.5))
@given(specs(max_cells=4).filter(lambda s: "stem" in s.features))
def test_an_upsampling_head_returns_the_input_size(spec):
    text = re.sub(r"^head\b.*$", "", spec.text, flags=re.M)
    text += "\nhead conv { out_channels = 2, upsample = true }\n"
    net = bs.parse(text)
    (shape,) = output_shapes(net)
    assert shape == (2, *net.input.size)  # back at full resolution after the stem
    check_valid_spec(dataclasses.replace(spec, text=text))


def test_upsample_needs_a_stem_and_a_conv_head():
    import pytest

    from blockspec.errors import SpecValueError

    base = "input { channels = 1, D = 1, H = 16, W = 16 }\n"
    base += 'backbone soanet { channels = 4, stages = ["C2"] }\n'
    with pytest.raises(SpecValueError, match="needs a stem"):
        bs.parse(base + "head conv { out_channels = 2, upsample = true }\n")
    with pytest.raises(SpecValueError, match="unknown key 'upsample'"):
        bs.parse(base + "head classify { classes = 2, upsample = true }\n")
