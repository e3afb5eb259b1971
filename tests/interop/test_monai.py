"""MONAI SwinTransformer / SwinUNETR encoder and ViT: converted models equal the reference."""

from __future__ import annotations

from functools import partial

import pytest
import torch

pytest.importorskip("monai")

import blockspec as bs  # noqa: E402
from blockspec import interop  # noqa: E402
from blockspec.interop import _monai_vit  # noqa: E402

from ._helpers import assert_close, assert_dtype, count, perturb  # noqa: E402


def _swin(**kw):
    from monai.networks.nets.swin_unetr import SwinTransformer

    args = dict(in_chans=2, embed_dim=12, window_size=(7, 7, 7), patch_size=(2, 2, 2),
                depths=(2, 2, 2, 2), num_heads=(3, 6, 12, 24), drop_path_rate=0.2)  # fmt: skip
    return SwinTransformer(**{**args, **kw})


def _swinunetr(**kw):
    from monai.networks.nets import SwinUNETR

    return SwinUNETR(**kw)


def _vit(**kw):
    from monai.networks.nets import ViT

    args = dict(in_channels=1, img_size=(16, 24, 32), patch_size=(4, 4, 8), hidden_size=24,
                mlp_dim=40, num_layers=2, num_heads=3)  # fmt: skip
    return ViT(**{**args, **kw})


def _outputs(y):
    return list(y) if isinstance(y, (list, tuple)) else [y]


def check_swin(ref, size, dtype, **options):
    ref = perturb(ref.to(dtype))  # float64 noise on a float64 model
    ours = interop.from_monai(ref, size=size, **options)
    assert_dtype(interop.to_spec_monai(ref, size=size, **options)[1], ours, dtype)
    enc = ref.swinViT if hasattr(ref, "swinViT") else ref
    assert count(ours) == count(enc)
    x = torch.randn(1, enc.patch_embed.proj.in_channels, *size, dtype=dtype)
    normalize = options.get("normalize", getattr(ref, "normalize", True))
    with torch.no_grad():
        ya = enc(x, normalize)
        yb = _outputs(ours(x))
    assert len(ya) == len(yb) == 5
    for i, (a, b) in enumerate(zip(ya, yb, strict=True)):
        assert_close(a, b, dtype, f"output {i}")


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_swin_padded_and_clamped_windows(dtype):
    # 64^3: maps 32, 16, 8, 4 -> window 7 padded at 32/16/8, clamped to 4 at the last stage
    check_swin(_swin(), (64, 64, 64), dtype)


def test_swin_mergingv2_no_qkv_bias_float64():
    # every map must stay at least 2 and halve exactly (MONAI would pad odd maps): each axis a
    # multiple of 64 / 2 = 32 and at least 64. Maps (32, 48, 32) ... (2, 3, 2): a window of
    # (7, 5, 6) is padded on some axes and clamped on others, level by level
    ref = _swin(downsample="mergingv2", qkv_bias=False, patch_norm=True, window_size=(7, 5, 6))
    check_swin(ref, (64, 96, 64), torch.float64)


def test_swin_normalize_false_float64():
    check_swin(_swin(depths=(1, 1, 1, 1)), (64, 64, 64), torch.float64, normalize=False)
    text, _ = interop.to_spec_monai(_swin(depths=(1, 1, 1, 1)), size=(64, 64, 64))
    assert "output_norm      = channel_layer_plain" in text  # the default: normalize=True


def test_swinunetr_normalize_false_float64():
    ref = _swinunetr(in_channels=1, out_channels=2, feature_size=12, depths=(1, 1, 1, 1),
                     normalize=False)  # fmt: skip
    assert "output_norm      = none" in interop.to_spec_monai(ref, size=(64, 64, 64))[0]
    check_swin(ref, (64, 64, 64), torch.float64)


def test_swinunetr_encoder_float64():
    from monai.networks.nets import SwinUNETR

    ref = SwinUNETR(in_channels=1, out_channels=2, feature_size=12, depths=(2, 2, 2, 2))
    check_swin(ref, (64, 64, 96), torch.float64)  # the last map is (2, 2, 3): at least 2


def check_vit(ref, dtype, size=(16, 24, 32)):
    ref = perturb(ref.to(dtype))  # float64 noise on a float64 model
    ours = interop.from_monai(ref, size=size)
    assert_dtype(interop.to_spec_monai(ref, size=size)[1], ours, dtype)
    # a sincos embedding is frozen in MONAI and in the conversion; "none" trains in both
    trains = ref.patch_embedding.position_embeddings.requires_grad
    assert ours.stem.pos_embed.requires_grad is trains
    assert count(ours) == count(ref) - _monai_vit.unused_parameters(ref)
    x = torch.randn(2, 1, *size, dtype=dtype)
    with torch.no_grad():
        ya, _ = ref(x)
        yb = ours(x)
    if hasattr(ref, "classification_head"):
        assert_close(ya, yb, dtype, "logits")
    else:
        (yb,) = _outputs(yb)
        grid = [s // p for s, p in zip(size, ref.patch_embedding.patch_embeddings.kernel_size)]
        assert_close(ya.transpose(1, 2).reshape(yb.shape[0], -1, *grid), yb, dtype, "tokens")


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize(
    "kw",
    [{}, {"classification": True, "num_classes": 3, "post_activation": None},
     {"qkv_bias": True, "pos_embed_type": "sincos"}, {"pos_embed_type": "none"},
     {"classification": True, "num_classes": 3, "post_activation": None,
      "pos_embed_type": "sincos"}],
)  # fmt: skip
def test_vit(kw, dtype):
    check_vit(_vit(**kw), dtype)


def test_vit_sincos_is_frozen():
    ours = interop.from_monai(_vit(pos_embed_type="sincos"), size=(16, 24, 32))
    assert not ours.stem.pos_embed.requires_grad
    assert all(p.requires_grad for n, p in ours.named_parameters() if n != "stem.pos_embed")


@pytest.mark.parametrize(
    ("make", "size", "match"),
    [
        (lambda: _swin(depths=(2, 2, 2), num_heads=(3, 6, 12)), (64, 64, 64),
         r"depths = \(2, 2, 2\)"),
        (lambda: _swin(norm_layer=partial(torch.nn.LayerNorm, eps=1e-6)), (64, 64, 64),
         "patch merging norm eps = 1e-06"),
        (lambda: _swin(), (80, 80, 80), r"(?s)size = \(80, 80, 80\).*multiple"),
        (lambda: _swin(), (32, 32, 32), r"size = \(32, 32, 32\)"),
        (lambda: _vit(), (16, 24, 32), "normalize"),
    ],
)  # fmt: skip
def test_swin_unsupported_is_a_clear_error(make, size, match):
    options = {"normalize": False} if match == "normalize" else {}
    with pytest.raises(interop.UnsupportedModelError, match=match):
        interop.to_spec_monai(make(), size=size, **options)


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: _swin(use_v2=True), "use_v2"),
        (lambda: _swin(drop_rate=0.1), "drop_rate"),
        (lambda: _vit(classification=True), "post_activation"),
        (lambda: _vit(proj_type="perceptron"), "proj_type"),
        (lambda: _vit(dropout_rate=0.1), "dropout_rate"),
    ],
)
def test_unsupported_is_a_clear_error(make, match):
    with pytest.raises(interop.UnsupportedModelError, match=match):
        interop.to_spec_monai(make(), size=(16, 24, 32) if "vit" in match or "proj" in match
                              or "post" in match or "dropout" in match else None)  # fmt: skip


def test_state_dict_and_not_a_model():
    ref = perturb(_vit())
    args = dict(in_channels=1, img_size=(16, 24, 32), patch_size=(4, 4, 8), hidden_size=24,
                mlp_dim=40, num_layers=2, num_heads=3)  # fmt: skip
    ours = interop.from_monai_state_dict("ViT", ref.state_dict(), size=(16, 24, 32), **args)
    x = torch.randn(1, 1, 16, 24, 32)
    with torch.no_grad():
        assert_close(ref(x)[0].transpose(1, 2).flatten(), _outputs(ours(x))[0].flatten(),
                     torch.float32, "tokens")  # fmt: skip
    with pytest.raises(interop.UnsupportedModelError, match="UNet"):
        interop.from_monai_state_dict("UNet", {})
    with pytest.raises(interop.UnsupportedModelError, match="Linear"):
        interop.to_spec_monai(torch.nn.Linear(2, 2))


@pytest.mark.parametrize(
    ("packaged", "make", "size"),
    [("monai_swin_encoder", lambda: _swinunetr(in_channels=1, out_channels=2, feature_size=48),
      (96, 96, 96)),
     ("monai_vit", lambda: _vit(img_size=96, patch_size=16, hidden_size=768, mlp_dim=3072,
                                num_layers=12, num_heads=12), (96, 96, 96))],
)  # fmt: skip
def test_packaged_spec_is_the_converted_one(packaged, make, size):
    ref = make()
    text, state = interop.to_spec_monai(ref, size=size)
    theirs = bs.create(packaged, seed=None)
    assert bs.parse(text) == bs.parse(theirs.spec)  # the same IR (spans and names aside)
    assert {k: tuple(v.shape) for k, v in theirs.state_dict().items()} == {
        k: tuple(v.shape) for k, v in state.items()
    }
    assert bs.summary(text).totals.params == bs.summary(theirs.spec).totals.params


def test_fine_tuning_flow(tmp_path):
    """Convert, save, edit the spec (in-channels, a classifier), load what fits."""
    ref = perturb(_vit())
    model = interop.from_monai(ref, size=(16, 24, 32))
    path = tmp_path / "vit.pt"
    bs.save(model, path)
    edited = model.spec.replace("let CHANNELS = 1", "let CHANNELS = 2")
    edited = edited.replace("  output_norm    = channel_layer\n", "") + (
        "\nhead classify { classes = 4, norm = channel_layer, pool = mean }\n"
    )
    tuned = bs.load(path, spec=edited)
    report = tuned.load_report
    assert report.mismatched == ("stem.conv.weight",)
    assert set(report.new) == {
        "head.fc.weight",
        "head.fc.bias",
        "head.norm.weight",
        "head.norm.bias",
    }
    assert set(report.unused) == {"outputs.norm0.weight", "outputs.norm0.bias"}
    assert "stage0.cell1.attn.q.weight" in report.loaded
    assert torch.equal(tuned.state_dict()["stem.pos_embed"], model.state_dict()["stem.pos_embed"])
    assert tuned(torch.randn(1, 2, 16, 24, 32)).shape == (1, 4)
