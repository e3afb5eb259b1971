"""`blockspec graph` draws what a SOANet returns: MONAI's stage inputs hang from the stem and
the downsamplings, `down_out` is a node, and the output ovals carry the shapes the module
really returns (maps, also with a class token)."""

from __future__ import annotations

import re

import torch

import blockspec as bs
from blockspec.graph import to_dot


def _returned_shapes(text: str, overrides: dict | None = None) -> list[tuple[int, ...]]:
    net = bs.parse(text, overrides)
    model = bs.compile(text, overrides=overrides).eval()
    x = torch.randn(1, net.input.channels, *net.input.size)
    with torch.no_grad():
        y = model(x)
    return [tuple(t.shape[1:]) for t in (y if isinstance(y, list) else [y])]


def _ovals(dot: str) -> dict[str, tuple[int, ...]]:
    """output node -> the shape printed in its label."""
    found = re.findall(
        r'"(out\d+)" \[label=<<B>output \d+[^<]*</B><BR/><FONT[^>]*>\[([^\]]*)\]', dot
    )
    return {name: tuple(int(n) for n in shape.split(", ")) for name, shape in found}


def test_monai_encoder_outputs_are_the_stage_inputs_and_down_out() -> None:
    lets = {"SIZE": 64, "C": 12}
    dot = to_dot(bs.parse("@monai_swin_encoder", lets))
    ovals = _ovals(dot)
    assert list(ovals.values()) == _returned_shapes("@monai_swin_encoder", lets)
    assert len(ovals) == 5
    assert '"stem" -> "out0"' in dot and '"down_out" -> "out4"' in dot
    assert '"stage1.down" -> "out1"' in dot and '"stage0" -> "stage1.down"' in dot
    assert "output 0 · channel_layer_plain" in dot


def test_class_token_outputs_are_drawn_as_maps() -> None:
    text = """
input { channels = 1, D = 1, H = 8, W = 8 }
stem { patch = [2, 2, 1], channels = 8, class_token = true, pos_embed = learned }
cell { window = [1, 1, 1], heads = 2, attention = lin, mixer = lin, norm = channel_layer,
       rel_pos_bias = false }
backbone soanet { channels = 8, stages = ["V2", "V2"], downsample = false }
"""
    ovals = _ovals(to_dot(bs.parse(text)))
    assert list(ovals.values()) == _returned_shapes(text) == [(8, 1, 4, 4), (8, 1, 4, 4)]
