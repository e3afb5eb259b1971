"""timm Swin and ViT: converted models equal the reference (run in the timm venv)."""

from __future__ import annotations

import pytest
import torch

timm = pytest.importorskip("timm")

import blockspec as bs  # noqa: E402
from blockspec import interop  # noqa: E402

from ._helpers import assert_close, assert_dtype, capture, count, perturb  # noqa: E402

NAMED = [
    "swin_tiny_patch4_window7_224",
    "swin_small_patch4_window7_224",
    "vit_small_patch16_224",
    "vit_base_patch16_224",
]


def _small_swin(**kw):
    from timm.models.swin_transformer import SwinTransformer

    args = dict(img_size=64, embed_dim=24, depths=(2, 1, 2), num_heads=(2, 3, 4), window_size=4,
                num_classes=7, drop_path_rate=0.1)  # fmt: skip
    return SwinTransformer(**{**args, **kw})


def _tiny(**kw):
    return timm.create_model("swin_tiny_patch4_window7_224", pretrained=False, **kw)


def _small_vit(**kw):
    from timm.models.vision_transformer import VisionTransformer

    args = dict(img_size=32, patch_size=8, embed_dim=48, depth=3, num_heads=4, num_classes=5,
                mlp_ratio=3.0)  # fmt: skip
    return VisionTransformer(**{**args, **kw})


def _stages(ref, ours):
    """Hooks on every stage of both. Swin: timm's NHWC maps made [B, C, H, W] (ours drop D).
    ViT: every token as [B, C, T], the class token first then the map row-major (timm's
    sequence; ours is the token row [B, C, 1, 1, 1 + N] with a class token, else the map)."""
    swin = hasattr(ref, "layers")
    theirs = {str(i): m for i, m in enumerate(ref.layers)} if swin else {"0": ref.blocks[-1]}
    a = capture(
        theirs, (lambda o: o.permute(0, 3, 1, 2)) if swin else (lambda o: o.transpose(1, 2))
    )
    ours_to = (lambda o: o[:, :, 0]) if swin else (lambda o: o.flatten(2))
    b = capture({k: ours.get_submodule(f"stage{k}") for k in theirs}, ours_to)
    return a, b


def check(ref, dtype, size=None, batch=2):
    ref = perturb(ref.to(dtype))  # float64 noise on a float64 model
    ours = interop.from_timm(ref)
    assert_dtype(interop.to_spec_timm(ref)[1], ours, dtype)
    assert count(ours) == count(ref)
    assert isinstance(ours.spec, str) and ours.spec
    h, w = ref.patch_embed.img_size if size is None else size
    x = torch.randn(batch, ref.patch_embed.proj.in_channels, h, w, dtype=dtype)
    fa, fb = _stages(ref, ours)
    with torch.no_grad():
        ya, yb = ref(x), ours(x.unsqueeze(2))
    assert_close(ya, yb, dtype, "logits")
    assert fa and set(fa) == set(fb), (sorted(fa), sorted(fb))
    for k in fa:
        assert_close(fa[k], fb[k], dtype, f"stage {k}")


@pytest.mark.parametrize(
    "kw",
    [
        {},
        {"qkv_bias": False, "window_size": 2},
        {"embed_dim": 16, "depths": (3,), "num_heads": (4,)},
        # windows clamped to smaller maps (timm: window = map, no shift; per axis)
        {"img_size": (32, 64)},
        {"img_size": 32, "window_size": 8},
        # head_dim written, equal to C / heads at every stage
        {"num_heads": (2, 4, 8), "head_dim": 12},
    ],
)
def test_small_swin_float64(kw):
    check(_small_swin(**kw), torch.float64)


@pytest.mark.parametrize(
    "kw",
    [
        {},
        {"qkv_bias": False, "global_pool": "avg", "fc_norm": False},
        {"class_token": False, "global_pool": "avg", "fc_norm": False},
        {"no_embed_class": True},
        {"act_layer": "gelu_tanh"},  # timm's GELUTanh is blockspec's gelu
        {"act_layer": "gelu"},  # timm's GELU (erf)
        {"act_layer": torch.nn.GELU},
    ],
)
def test_small_vit_float64(kw):
    check(_small_vit(**kw), torch.float64)


def test_swin_tanh_gelu_float64():
    ref = _small_swin()
    for layer in ref.layers:
        for blk in layer.blocks:
            blk.mlp.act = torch.nn.GELU(approximate="tanh")
    assert "activation    = gelu\n" in interop.to_spec_timm(ref)[0]
    check(ref, torch.float64)


@pytest.mark.parametrize("name", NAMED)
def test_named_float32(name):
    torch.manual_seed(0)
    check(timm.create_model(name, pretrained=False), torch.float32, batch=1)


@pytest.mark.parametrize(
    "name",
    [
        "swin_tiny_patch4_window7_224",
        pytest.param("swin_small_patch4_window7_224", marks=pytest.mark.slow),
        "vit_small_patch16_224",
        pytest.param("vit_base_patch16_224", marks=pytest.mark.slow),
    ],
)
def test_named_float64(name):
    torch.manual_seed(0)
    check(timm.create_model(name, pretrained=False), torch.float64, batch=1)


@pytest.mark.parametrize(
    ("name", "packaged"),
    [
        ("swin_tiny_patch4_window7_224", "swin_t"),
        ("swin_small_patch4_window7_224", "swin_s"),
        ("vit_small_patch16_224", "vit_s16"),
        ("vit_base_patch16_224", "vit_b16"),
    ],
)
def test_packaged_spec_is_the_converted_one(name, packaged):
    ref = timm.create_model(name, pretrained=False)
    text, state = interop.to_spec_timm(ref)
    theirs = bs.create(packaged, seed=None)
    assert bs.parse(text) == bs.parse(theirs.spec)  # the same IR (spans and names aside)
    assert count(theirs) == count(ref)
    assert {k: tuple(v.shape) for k, v in theirs.state_dict().items()} == {
        k: tuple(v.shape) for k, v in state.items()
    }


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: _small_swin(always_partition=True), "always_partition"),
        (lambda: _small_swin(proj_drop_rate=0.1), "proj_drop"),
        (lambda: _small_vit(global_pool="avg"), "fc_norm"),
        (lambda: _small_vit(init_values=1e-5), "init_values"),
        (lambda: _small_vit(reg_tokens=2), "reg_tokens"),
        (lambda: _small_vit(act_layer=torch.nn.SiLU), "act_layer"),
        (lambda: _small_swin(head_dim=16), "head_dim = 16"),
        # maps the window does not divide: timm pads after its shift, blockspec before
        (lambda: _small_swin(img_size=48), r"img_size.*stage 1's map \[6, 6\]"),
        (lambda: _tiny(img_size=96, window_size=7), r"img_size.*multiple of 224 x 224"),
        (lambda: _tiny(img_size=112, window_size=7), r"img_size.*odd"),
    ],
)
def test_unsupported_is_a_clear_error(make, match):
    with pytest.raises(interop.UnsupportedModelError, match=match):
        interop.to_spec_timm(make())


def test_from_state_dict():
    ref = perturb(timm.create_model("vit_small_patch16_224", pretrained=False, img_size=64))
    ours = interop.from_timm_state_dict("vit_small_patch16_224", ref.state_dict(), img_size=64)
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert_close(ref(x), ours(x.unsqueeze(2)), torch.float32, "logits")
