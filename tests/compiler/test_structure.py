"""Backbone structure as the compiler resolves it: U-Net decoder blocks, HR-Net channel lists
and resamplers, SOANet downsampling options, stems — checked against SEMANTICS.md by hand."""

from __future__ import annotations

import pytest
import torch

import blockspec as bs
from blockspec.compiler import ir

INP = "input { channels = 1, D = 1, H = 16, W = 16 }\ncell { window = [4, 4, 1], heads = 2 }\n"


def grads_everywhere(model: torch.nn.Module, x: torch.Tensor) -> None:
    out = model(x)
    outs = out if isinstance(out, list) else [out]
    sum(o.square().mean() for o in outs).backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name


def test_unet_decoder_key() -> None:
    text = INP + (
        'backbone unet { channels = 4, levels = 2, blocks = ["L1"], decoder = ["C2C2", "G1"],'
        ' bridge = "C2" }\n'
    )
    net = bs.parse(text)
    assert isinstance(net.backbone, ir.UNet)
    decs = [[c.config.code for c in lv.dec.cells] for lv in net.backbone.levels]
    assert decs == [["C2", "C2"], ["G1"]]
    # dec_l maps 2 C_l -> C_{l-1} (C_0 at the top); enc_l maps C_{l-1} -> C_l
    assert [(lv.dec.c_in, lv.dec.c_out) for lv in net.backbone.levels] == [(8, 4), (16, 4)]
    assert [(lv.enc.c_in, lv.enc.c_out) for lv in net.backbone.levels] == [(1, 4), (4, 8)]
    model = bs.compile(text)
    grads_everywhere(model, torch.randn(2, 1, 1, 16, 16))


def test_hrnet_channel_lists_and_resamplers() -> None:
    text = INP + (
        'backbone hrnet { channels = [4, 6, 10], levels = 3, blocks = ["C2"], '
        "downsample = merge }\n"
    )
    net = bs.parse(text)
    hr = net.backbone
    assert isinstance(hr, ir.HRNet)
    res = dict(hr.resamplers)
    # from level 0 to level 2 at stage 2: one step per level, 4 -> 6 -> 10
    assert res[(2, 2, 0)].config.channels == (4, 6, 10)
    assert res[(2, 2, 1)].config.channels == (6, 10)
    fus = dict(hr.fusion)
    assert fus[(0, 2)].config.direction == "up" and fus[(0, 2)].config.factor == 4
    assert fus[(0, 2)].config.channels == (10, 4)
    model = bs.compile(text)
    outs = model(torch.randn(1, 1, 1, 16, 16))
    assert [tuple(o.shape) for o in outs] == [
        (1, 4, 1, 16, 16),
        (1, 6, 1, 8, 8),
        (1, 10, 1, 4, 4),
        (1, 20, 1, 16, 16),
    ]
    # merge: 4 * C_in * C_out, no bias, per step
    merge_02 = dict(model.named_modules())["level2.stage2.from0"]
    assert sum(p.numel() for p in merge_02.parameters()) == 4 * 4 * 6 + 4 * 6 * 10
    grads_everywhere(model, torch.randn(2, 1, 1, 16, 16))


@pytest.mark.parametrize(
    "down, ch",
    [
        ("true", [4, 8]),
        ("false", [4, 8]),
        ("stride", [4, 8]),
        ("merge", [4, 8]),
        ("interpolate", [4, 8]),
    ],
)
def test_soanet_downsample_options(down: str, ch: list[int]) -> None:
    text = INP + f'backbone soanet {{ channels = 4, stages = ["C2", "C2"], downsample = {down} }}\n'
    net = bs.parse(text)
    sizes = [b.size[1] for b in net.backbone.stages]
    chans = [b.c_out for b in net.backbone.stages]
    if down == "false":
        assert sizes == [16, 16] and chans == [4, 4]  # no doubling without downsampling
    else:
        assert sizes == [16, 8] and chans == ch
    model = bs.compile(text)
    outs = model(torch.randn(1, 1, 1, 16, 16))
    assert [o.shape[-1] for o in outs] == sizes


def test_stem_and_channel_layer() -> None:
    text = (
        "input { channels = 3, D = 1, H = 32, W = 32 }\n"
        "stem { patch = [4, 4, 1], channels = 8, norm = channel_layer }\n"
        "cell { window = [4, 4, 1], heads = 2, norm = channel_layer }\n"
        'backbone soanet { channels = 8, stages = ["L1"] }\n'
        "head classify { classes = 5 }\n"
    )
    model = bs.compile(text)
    stem = dict(model.named_modules())["stem"]
    # conv kernel = stride = patch (3 * 8 * 16 + 8) and a LayerNorm over C (2 * 8)
    assert sum(p.numel() for p in stem.parameters()) == 3 * 8 * 16 + 8 + 2 * 8
    assert model(torch.randn(2, 3, 1, 32, 32)).shape == (2, 5)
    grads_everywhere(model, torch.randn(2, 3, 1, 32, 32))
