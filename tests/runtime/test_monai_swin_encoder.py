"""MONAI's SwinTransformer (the SwinUNETR encoder) and a SOANet with the MONAI keys
(`final_downsample`, `outputs = stage_inputs`, `output_norm = channel_layer_plain`,
`window_padding`, `rel_pos_table = written`) compute the same outputs from the same weights.

The reference is MONAI's own modules (patch embedding, `BasicLayer`s, `proj_out`), run on a
24^3 input: stage 0 is 12^3 with a window of 7 (padded to 14, shifted by 3), stage 1 is 6^3
where the window is clamped to 6 and its table is the written window's; on 40^3 both stages
pad (20 -> 21, 10 -> 14) and shift. MONAI's patch merging
has a LayerNorm(8C) that this branch's `downsample = merge` lacks (the `downsample_norm` key
is another change): the test replaces it by the identity on the MONAI side.
"""

from __future__ import annotations

import itertools

import pytest
import torch
from torch import nn

import blockspec as bs

swin_unetr = pytest.importorskip("monai.networks.nets.swin_unetr")

SPEC = """
input { channels = 1, D = SIZE, H = SIZE, W = SIZE }
stem { patch = [2, 2, 2], channels = 12, norm = none }
cell {
  window = [7, 7, 7]
  window_sizing = keep_window_size
  heads = 3
  attention = lin
  mixer = lin
  norm = channel_layer
  activation = gelu_erf
  cosine = false
  normalize_qk = false
  dropout = 0.0
  window_padding = true
  rel_pos_table = written
}
backbone soanet {
  channels = 12
  stages = ["S3Sh", "S3Sh"]
  stage 1 { heads = 6 }
  downsample = merge
  downsample_depth = true
  final_downsample = true
  outputs = stage_inputs
  output_norm = channel_layer_plain
}
"""

# MONAI's merge concatenates the 8 neighbours in this (d, h, w) order, channels innermost
_MONAI_ORDER = [
    (0, 0, 0),
    (1, 0, 0),
    (0, 1, 0),
    (0, 0, 1),
    (1, 1, 0),
    (1, 0, 1),
    (0, 1, 1),
    (1, 1, 1),
]


def _merge_weight(w: torch.Tensor, c: int) -> torch.Tensor:
    """MONAI's reduction [2C, 8C] (index j*C + c) -> our conv1 [2C, 8C, 1, 1, 1] (index
    ((c*2 + dh)*2 + dw)*2 + dd)."""
    out = torch.empty_like(w)
    for j, (dd, dh, dw) in enumerate(_MONAI_ORDER):
        for ch in range(c):
            out[:, ((ch * 2 + dh) * 2 + dw) * 2 + dd] = w[:, j * c + ch]
    return out[:, :, None, None, None]


def _convert(ref: nn.Module, layers: int) -> dict[str, torch.Tensor]:
    sd = ref.state_dict()
    out = {"stem.conv.weight": sd["patch_embed.proj.weight"],
           "stem.conv.bias": sd["patch_embed.proj.bias"]}  # fmt: skip
    for i in range(layers):
        root = f"layers{i + 1}.0."
        for b in itertools.count():
            src = f"{root}blocks.{b}."
            if src + "norm1.weight" not in sd:
                break
            dst = f"stage{i}.cell{b}."
            c = sd[src + "norm1.weight"].shape[0]
            for n in ("norm1", "norm2"):
                out[dst + n + ".weight"] = sd[src + n + ".weight"]
                out[dst + n + ".bias"] = sd[src + n + ".bias"]
            qkv_w, qkv_b = sd[src + "attn.qkv.weight"], sd[src + "attn.qkv.bias"]
            for j, name in enumerate("qkv"):
                out[dst + f"attn.{name}.weight"] = qkv_w[j * c : (j + 1) * c]
                out[dst + f"attn.{name}.bias"] = qkv_b[j * c : (j + 1) * c]
            out[dst + "attn.out.weight"] = sd[src + "attn.proj.weight"]
            out[dst + "attn.out.bias"] = sd[src + "attn.proj.bias"]
            out[dst + "attn.pos_table"] = sd[src + "attn.relative_position_bias_table"]
            for a, m in (("fc1", "linear1"), ("fc2", "linear2")):
                out[dst + f"mixer.{a}.weight"] = sd[src + f"mlp.{m}.weight"]
                out[dst + f"mixer.{a}.bias"] = sd[src + f"mlp.{m}.bias"]
        red = sd[root + "downsample.reduction.weight"]
        target = (
            f"stage{i + 1}.down.step0.conv.weight"
            if i + 1 < layers
            else "down_out.step0.conv.weight"
        )
        out[target] = _merge_weight(red, red.shape[1] // 8)
    return out


def _reference(ref: nn.Module, x: torch.Tensor, layers: int) -> list[torch.Tensor]:
    """MONAI SwinTransformer.forward for `layers` layers (its forward needs four)."""
    y = ref.patch_embed(x)
    outs = [ref.proj_out(y, True)]
    for i in range(layers):
        y = getattr(ref, f"layers{i + 1}")[0](y.contiguous())
        outs.append(ref.proj_out(y, True))
    return outs


@pytest.mark.parametrize("size", [24, 40])
def test_monai_swin_encoder_equals_the_soanet(size: int) -> None:
    torch.manual_seed(0)
    ref = swin_unetr.SwinTransformer(
        in_chans=1, embed_dim=12, window_size=(7, 7, 7), patch_size=(2, 2, 2), depths=(2, 2),
        num_heads=(3, 6), qkv_bias=True,
    ).double().eval()  # fmt: skip
    for i in (1, 2):  # see the module docstring: no merge norm on this branch
        getattr(ref, f"layers{i}")[0].downsample.norm = nn.Identity()
    with torch.no_grad():  # perturb everything, so identity initialisations hide nothing
        for p in ref.parameters():
            p.add_(0.1 * torch.randn_like(p))
    net = bs.parse(SPEC.replace("SIZE", str(size)))
    model = bs.compile(net).double().eval()
    state = _convert(ref, 2)
    assert set(state) == set(model.state_dict())
    model.load_state_dict(state)
    assert sum(p.numel() for p in model.parameters()) == sum(p.numel() for p in ref.parameters())
    x = torch.randn(2, 1, size, size, size, dtype=torch.float64)
    with torch.no_grad():
        got, want = model(x), _reference(ref, x, 2)
    assert [t.shape for t in got] == [t.shape for t in want]
    for g, w in zip(got, want):
        assert (g - w).abs().max().item() < 1e-10
