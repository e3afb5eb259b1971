"""MONAI `SwinTransformer` (SwinUNETR's ``swinViT`` encoder, 3D) -> a headless SOANet.

MONAI's input ``[B, C, s0, s1, s2]`` is blockspec's ``[B, C, D, H, W]`` (s0 = D), so MONAI's
window and patch ``(w0, w1, w2)`` are written ``[w1, w2, w0]`` (H, W, D). Each MONAI
``layers{i}`` runs stage i's blocks then its patch merging; in blockspec that merging is the
downsample opening stage i + 1 (``stage{i+1}.down``), or ``down_out`` after the last stage.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

from . import _common as common
from ._common import DEFAULT_EPS, Converter, cell_lines, document, eps_entry, refuse
from ._read import activation, dhw_spec, drop_path_rate, layer_norm_eps, probability

FAMILY = "MONAI SwinTransformer"
#: neighbours (d, h, w) in the order MONAI concatenates them
MERGE_ORDERS = {
    "PatchMerging": (
        (0, 0, 0), (1, 0, 0), (0, 1, 0), (0, 0, 1), (1, 1, 0), (1, 0, 1), (0, 1, 1), (1, 1, 1),
    ),
    "PatchMergingV2": tuple(itertools.product(range(2), repeat=3)),
}  # fmt: skip


def encoder(model: Any, normalize: bool | None = None) -> tuple[Any, bool]:
    """The SwinTransformer of a SwinUNETR (or the model itself) and whether its outputs are
    normalised: `normalize` when given, else a SwinUNETR's own ``.normalize``, else True
    (a bare SwinTransformer's forward takes it as an argument, default True)."""
    if type(model).__name__ == "SwinUNETR":
        enc, own = model.swinViT, bool(getattr(model, "normalize", True))
    else:
        enc, own = model, True
    return enc, own if normalize is None else bool(normalize)


def _layers(enc: Any) -> list[Any]:
    n = int(getattr(enc, "num_layers", 0))
    depths = tuple(len(getattr(enc, f"layers{i}")[0].blocks) for i in range(1, n + 1))
    if n != 4:
        raise refuse(
            FAMILY, "depths", depths,
            "4 stages (MONAI's forward runs layers1 .. layers4), e.g. depths=(2, 2, 2, 2)",
        )  # fmt: skip
    return [getattr(enc, f"layers{i}")[0] for i in range(1, 5)]


def _check(enc: Any) -> None:
    if getattr(enc, "use_v2", False):
        raise refuse(FAMILY, "use_v2", True, "use_v2=False (SwinUNETR v1)")
    if any(getattr(enc, "_per_stage_hyena", [])):
        raise refuse(FAMILY, "use_hyena / hyena_stages", True, "windowed attention in every stage")
    if len(enc.window_size) != 3:
        raise refuse(FAMILY, "spatial_dims", len(enc.window_size), "3")
    probability(FAMILY, "drop_rate", enc.pos_drop, zero=True)
    for i, lay in enumerate(_layers(enc)):
        name = type(lay.downsample).__name__
        if name not in MERGE_ORDERS:
            raise refuse(FAMILY, "downsample", name, "'merging' or 'mergingv2'")
        for j, blk in enumerate(lay.blocks):
            if type(blk).__name__ != "SwinTransformerBlock":
                raise refuse(
                    FAMILY, f"layers{i + 1}.blocks.{j}", type(blk).__name__, "a Swin block"
                )
            probability(FAMILY, "drop_rate (attention output)", blk.attn.proj_drop, zero=True)
            probability(FAMILY, "drop_rate (mlp)", blk.mlp.drop1, zero=True)


def _check_size(size: Sequence[int], patch: Sequence[int], merges: int) -> None:
    """MONAI pads an input the patch does not divide and every odd map before a merge; the
    spec's maps must divide and halve exactly instead (and stay at least 2)."""
    step = [p * 2**merges for p in patch]
    works = (
        f"a size whose every axis is a multiple of the patch times {2**merges} "
        f"({step}) and at least twice that"
    )
    if len(size) != 3:
        raise refuse(FAMILY, "size", tuple(size), f"(s0, s1, s2): {works}")
    if any(s % q or s < 2 * q for s, q in zip(size, step, strict=True)):
        raise refuse(
            FAMILY, "size", tuple(size),
            f"{works}: MONAI pads maps that do not divide or halve exactly, blockspec does not",
        )  # fmt: skip


def _hwd(v: Sequence[int]) -> str:
    """MONAI's (s0, s1, s2) as a spec triple [H, W, D]."""
    return f"[{v[1]}, {v[2]}, {v[0]}]"


def spec_text(model: Any, size: Sequence[int] = (96, 96, 96), normalize: bool | None = None) -> str:
    """The spec of a MONAI SwinTransformer / SwinUNETR encoder for inputs of `size` (s0, s1, s2);
    `normalize` as in `encoder`."""
    enc, normalize = encoder(model, normalize)
    _check(enc)
    layers = _layers(enc)
    pe = enc.patch_embed
    patch = tuple(pe.proj.kernel_size)
    if tuple(pe.proj.stride) != patch:
        raise refuse(FAMILY, "patch_embed stride", pe.proj.stride, "stride = patch size")
    _check_size(size, patch, len(layers))
    size_lets, dims = dhw_spec(size)
    blocks = [len(lay.blocks) for lay in layers]
    heads = [lay.blocks[0].attn.num_heads for lay in layers]
    blk0 = layers[0].blocks[0]
    norms = [m for lay in layers for b in lay.blocks for m in (b.norm1, b.norm2)]
    merge_eps = layer_norm_eps(FAMILY, [lay.downsample.norm for lay in layers])
    if merge_eps != DEFAULT_EPS:
        raise refuse(FAMILY, "patch merging norm eps", merge_eps, "1e-5")
    stem = [f"patch = {_hwd(patch)}", "channels = C"]
    if pe.norm is not None:
        stem += ["norm = channel_layer", *eps_entry(layer_norm_eps(FAMILY, [pe.norm]))]
    cell = cell_lines(
        [f"window = {_hwd(enc.window_size)}", "patch = [1, 1, 1]",
         "window_sizing = keep_window_size", "window_padding = true",
         "rel_pos_table = written_window"],
        ratio=blk0.mlp.linear1.out_features / enc.embed_dim,
        act=activation(FAMILY, blk0.mlp.fn),
        eps=layer_norm_eps(FAMILY, norms),
        qkv_bias=blk0.attn.qkv.bias is not None,
        att_drop=probability(FAMILY, "attn_drop_rate", blk0.attn.attn_drop),
    )  # fmt: skip
    settings = [
        "downsample = merge", "downsample_depth = true", "downsample_norm = channel_layer",
        "final_downsample = true", "outputs = stage_inputs",
        f"output_norm = {'channel_layer_plain' if normalize else 'none'}",
    ]  # fmt: skip
    backbone = common.swin_backbone(
        "C",
        blocks,
        drop_path_rate(FAMILY, [b for lay in layers for b in lay.blocks]),
        settings,
        [f"stage {i} {{ heads = {n} }}" for i, n in enumerate(heads)],
    )
    return document(
        f"MONAI SwinUNETR encoder (SwinTransformer), converted: depths {blocks}, "
        f"C = {enc.embed_dim}",
        [f"let CHANNELS = {pe.proj.in_channels}", *size_lets, f"let C = {enc.embed_dim}"],
        dims,
        stem,
        [cell, backbone],
    )


def convert(model: Any, ours: Any) -> dict:
    """The blockspec state dict of `ours` (compiled from `spec_text(model)`) from MONAI's."""
    enc, _ = encoder(model)
    cv = Converter(FAMILY, enc.state_dict())
    cv.stem_conv("patch_embed.proj")
    if enc.patch_embed.norm is not None:
        cv.affine("patch_embed.norm", "stem.norm")
    layers = _layers(enc)
    for i, lay in enumerate(layers):
        for j, blk in enumerate(lay.blocks):
            src, dst = f"layers{i + 1}.0.blocks.{j}", f"stage{i}.cell{j}"
            bias = blk.attn.qkv.bias is not None
            cv.block(src, dst, qkv_bias=bias, proj="attn.proj", mlp=("linear1", "linear2"))
            attn = ours.get_submodule(f"{dst}.attn")
            n = int(attn.pos_index.numel() ** 0.5)
            index = cv.take(f"{src}.attn.relative_position_index")[:n, :n]
            cv.pos_table(
                f"{src}.attn.relative_position_bias_table", f"{dst}.attn.pos_table", index, attn
            )
        dst = f"stage{i + 1}.down.step0" if i + 1 < len(layers) else "down_out.step0"
        order = [(h, w, d) for d, h, w in MERGE_ORDERS[type(lay.downsample).__name__]]
        cv.merge(f"layers{i + 1}.0.downsample", dst, lay.downsample.dim, order)
    return cv.finish(ours.state_dict())
