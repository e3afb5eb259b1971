"""The class token, the position embedding and the head's norm and pool compute what
SEMANTICS.md says ("Class token"): a tiny ViT equals a hand-written torch reference (patch
conv, cat token, + pos, per cell x + attn(LN(x)) and x + mlp(LN(x)), final LN, token,
linear) in float64, with the weights copied by name."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

import blockspec as bs
from torch_flops import counted_flops

C, HEADS, CLASSES = 16, 2, 5
VIT = """
input { channels = 2, D = 1, H = 8, W = 12 }
stem { patch = [4, 4, 1], channels = 16, class_token = true, pos_embed = POS, norm = NORM }
cell { window = [1, 1, 1], heads = 2, attention = lin, mixer = lin, norm = channel_layer,
       rel_pos_bias = false, cosine = false, normalize_qk = false, activation = gelu_erf }
backbone soanet { channels = 16, stages = ["V2V2", "V2"], downsample = false }
head classify { classes = 5, norm = channel_layer, norm_eps = 1e-6, pool = POOL }
"""


def vit(pos: str = "learned", pool: str = "token", norm: str = "none") -> str:
    return VIT.replace("POS", pos).replace("POOL", pool).replace("NORM", norm)


def _ln(x, sd, key, eps=1e-5):
    return F.layer_norm(x, (x.shape[-1],), sd[f"{key}.weight"], sd[f"{key}.bias"], eps)


def _lin(x, sd, key):
    return F.linear(x, sd[f"{key}.weight"], sd[f"{key}.bias"])


def _attention(t, sd, key):
    """Multi-head softmax(q k^T / sqrt(d)) v over all tokens, then the output projection."""
    b, n, c = t.shape
    d = c // HEADS

    def heads(y):
        return y.reshape(b, n, HEADS, d).transpose(1, 2)

    q, k, v = (heads(_lin(t, sd, f"{key}.{w}")) for w in "qkv")
    a = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(d), dim=-1) @ v
    return _lin(a.transpose(1, 2).reshape(b, n, c), sd, f"{key}.out")


def reference(sd: dict, x: torch.Tensor, pos: str, pool: str, stem_norm: str):
    """The tiny ViT by hand: (stage outputs as maps, logits)."""
    m = F.conv3d(x, sd["stem.conv.weight"], sd["stem.conv.bias"], stride=(1, 4, 4))
    b, _, d, h, w = m.shape
    t = m.flatten(2).transpose(1, 2)  # [B, N, C], pixels in (D, H, W) row-major order
    if stem_norm == "channel_layer":
        t = _ln(t, sd, "stem.norm")
    if pos == "learned_map":
        t = t + sd["stem.pos_embed"]
    t = torch.cat([sd["stem.class_token"].expand(b, 1, C), t], dim=1)
    if pos == "learned":
        t = t + sd["stem.pos_embed"]
    maps = []
    for stage, cells in ((0, 2), (1, 1)):
        for i in range(cells):
            key = f"stage{stage}.cell{i}"
            t = t + _attention(_ln(t, sd, f"{key}.norm1"), sd, f"{key}.attn")
            hid = F.gelu(_lin(_ln(t, sd, f"{key}.norm2"), sd, f"{key}.mixer.fc1"))
            t = t + _lin(hid, sd, f"{key}.mixer.fc2")
        maps.append(t[:, 1:].transpose(1, 2).reshape(b, C, d, h, w))
    y = _ln(t, sd, "head.norm", eps=1e-6)
    pooled = y[:, 0] if pool == "token" else y[:, 1:].mean(dim=1)
    return maps, _lin(pooled, sd, "head.fc")


@pytest.mark.parametrize(
    "pos, pool, norm",
    [("learned", "token", "none"), ("learned_map", "token", "channel_layer"),
     ("learned", "mean", "none"), ("none", "token", "none")],
)  # fmt: skip
def test_tiny_vit_equals_the_reference(pos: str, pool: str, norm: str) -> None:
    text = vit(pos, pool, norm)
    model = bs.compile(text, seed=0).double().eval()
    feats = bs.compile(text, seed=0, features_only=True).double().eval()
    sd = {k: v.detach() for k, v in model.state_dict().items()}
    x = torch.randn(3, 2, 1, 8, 12, dtype=torch.float64)
    maps, logits = reference(sd, x, pos, pool, norm)
    with torch.no_grad():
        got = model(x)
        got_maps = feats(x)
    assert got.shape == (3, CLASSES)
    torch.testing.assert_close(got, logits, atol=1e-6, rtol=0)
    assert [tuple(g.shape) for g in got_maps] == [(3, C, 1, 2, 3)] * 2
    for g, r in zip(got_maps, maps):
        torch.testing.assert_close(g, r, atol=1e-6, rtol=0)
    net = bs.parse(text)
    assert bs.compile(text).feature_info == [
        {"module": f"stage{s}", "num_chs": C, "reduction": 4} for s in range(2)
    ]
    assert [tuple(s) for s in bs.compiler.infer.output_shapes(net)] == [(CLASSES,)]


def test_parameters_keep_their_names_shapes_and_init() -> None:
    model = bs.compile(vit(), seed=0)
    shapes = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    assert shapes["stem.class_token"] == (C,)
    assert shapes["stem.pos_embed"] == (1 + 2 * 3, C)
    assert shapes["head.norm.weight"] == shapes["head.norm.bias"] == (C,)
    assert model.stem.class_token.abs().max() < 1e-4  # normal, std 1e-6 (timm)
    assert 0.01 < model.stem.pos_embed.std() < 0.03  # truncated normal, std 0.02 (timm)
    assert model.head.norm.eps == 1e-6
    map_only = bs.compile(vit("learned_map"), seed=0)
    assert tuple(map_only.stem.pos_embed.shape) == (2 * 3, C)  # no row for the token


def test_counts_and_flops_are_what_runs() -> None:
    text = vit()
    net = bs.parse(text)
    s = bs.summary(net)
    model = bs.compile(net, seed=0).eval()
    assert sum(p.numel() for p in model.parameters()) == s.totals.params
    rows = {r.path: r for r in s.rows}
    stem_conv = 2 * C * 16 + C
    assert rows["stem"].stats.params == stem_conv + C + (1 + 6) * C
    assert rows["head"].stats.params == C * CLASSES + CLASSES + 2 * C
    assert rows["stage0"].out_shape == (C, 1, 1, 7)  # the cells run on the token row
    x = torch.randn(1, 2, 1, 8, 12)
    assert counted_flops(model, x)[0] == s.totals.flops


def test_stem_norm_eps_and_pos_embed_without_a_class_token() -> None:
    text = (
        "input { channels = 1, D = 1, H = 16, W = 16 }\n"
        "stem { patch = [2, 2, 1], channels = 8, norm = batch2d, norm_eps = 1e-3,"
        " pos_embed = learned }\n"
        'backbone unet { channels = 8, levels = 1, blocks = ["C2"] }\n'
        "head classify { classes = 3, norm = channel_layer }\n"
    )
    model = bs.compile(text, seed=0).eval()
    assert model.stem.norm.eps == 1e-3 and model.head.norm.eps == 1e-5
    assert tuple(model.stem.pos_embed.shape) == (64, 8)
    s = bs.summary(bs.parse(text))
    assert sum(p.numel() for p in model.parameters()) == s.totals.params
    x = torch.randn(2, 1, 1, 16, 16)
    stem = model.stem
    with torch.no_grad():
        m = stem.norm(stem.conv(x))
        want = m + stem.pos_embed.t().reshape(8, 1, 8, 8)
        torch.testing.assert_close(stem(x), want)
        assert model(x).shape == (2, 3)
