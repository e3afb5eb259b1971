"""MONAI's SwinTransformer with its patch-merging LayerNorm(8C) kept equals the SOANet of
`test_monai_swin_encoder` with `downsample_norm = channel_layer` (every merge, `down_out`
included): the norm's weight and bias take the merge's channel permutation."""

from __future__ import annotations

import torch

import blockspec as bs

from .test_monai_swin_encoder import _MONAI_ORDER, SPEC, _convert, _reference, swin_unetr


def _merge_vector(v: torch.Tensor, c: int) -> torch.Tensor:
    """MONAI's [8C] (index j*C + c) -> ours (index ((c*2 + dh)*2 + dw)*2 + dd)."""
    out = torch.empty_like(v)
    for j, (dd, dh, dw) in enumerate(_MONAI_ORDER):
        for ch in range(c):
            out[((ch * 2 + dh) * 2 + dw) * 2 + dd] = v[j * c + ch]
    return out


def test_monai_swin_encoder_with_merge_norms_equals_the_soanet() -> None:
    torch.manual_seed(0)
    ref = swin_unetr.SwinTransformer(
        in_chans=1, embed_dim=12, window_size=(7, 7, 7), patch_size=(2, 2, 2), depths=(2, 2),
        num_heads=(3, 6), qkv_bias=True,
    ).double().eval()  # fmt: skip
    with torch.no_grad():  # perturb everything, the merge norms included
        for p in ref.parameters():
            p.add_(0.1 * torch.randn_like(p))
    text = SPEC.replace("SIZE", "24").replace(
        "downsample = merge\n", "downsample = merge\n  downsample_norm = channel_layer\n"
    )
    model = bs.compile(text).double().eval()
    state = _convert(ref, 2)
    sd = ref.state_dict()
    for i, target in ((1, "stage1.down.step0"), (2, "down_out.step0")):
        for part in ("weight", "bias"):
            v = sd[f"layers{i}.0.downsample.norm.{part}"]
            state[f"{target}.norm.{part}"] = _merge_vector(v, v.shape[0] // 8)
    assert set(state) == set(model.state_dict())
    model.load_state_dict(state)
    assert sum(p.numel() for p in model.parameters()) == sum(p.numel() for p in ref.parameters())
    assert bs.summary(bs.parse(text)).totals.params == sum(p.numel() for p in ref.parameters())
    x = torch.randn(2, 1, 24, 24, 24, dtype=torch.float64)
    with torch.no_grad():
        got = model(x)
        want = _reference(ref, x, 2)
    assert len(got) == len(want)
    for g, w in zip(got, want):
        torch.testing.assert_close(g, w, rtol=0, atol=1e-10)


def test_without_the_key_the_merge_norms_are_missing() -> None:
    text = SPEC.replace("SIZE", "24")
    keys = set(bs.compile(text).state_dict())
    assert not {k for k in keys if ".norm." in k and "down" in k}
