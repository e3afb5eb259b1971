"""timm `SwinTransformer` -> a SOANet of S3/Sh cells with merge downsampling."""

from __future__ import annotations

from typing import Any

from ._common import (
    Converter,
    fmt_number,
    merge_permutation,
    position_table_map,
    refuse,
    stage_blocks,
)
from ._read import activation, drop_path_rate, hw_spec, layer_norm_eps, probability

FAMILY = "timm SwinTransformer"
#: timm's patch merging concatenates x[0::2, 0::2], x[1::2, 0::2], x[0::2, 1::2], x[1::2, 1::2]
TIMM_MERGE_ORDER = ((0, 0), (1, 0), (0, 1), (1, 1))


def _check(model: Any) -> None:
    blk0 = model.layers[0].blocks[0]
    if getattr(blk0, "always_partition", False):
        raise refuse(FAMILY, "always_partition", True, "always_partition=False")
    if getattr(model, "global_pool", "avg") != "avg":
        raise refuse(FAMILY, "global_pool", model.global_pool, "'avg'")
    if not hasattr(model.head, "fc") or not hasattr(model.head.fc, "weight"):
        raise refuse(FAMILY, "num_classes", 0, "a classifier (num_classes >= 1)")
    probability(FAMILY, "drop_rate", model.head.drop, zero=True)
    if type(model.patch_embed.norm).__name__ == "Identity":
        raise refuse(
            FAMILY, "patch_embed.norm", "Identity", "a LayerNorm after the patch embedding"
        )
    for i, layer in enumerate(model.layers):
        for j, blk in enumerate(layer.blocks):
            where = f"layers.{i}.blocks.{j}"
            attn = blk.attn
            if attn.qkv.out_features != 3 * attn.qkv.in_features:
                raise refuse(FAMILY, f"{where}.attn head_dim", attn.head_dim, "dim // num_heads")
            probability(FAMILY, f"{where} proj_drop", attn.proj_drop, zero=True)
            probability(FAMILY, f"{where} mlp drop", blk.mlp.drop1, zero=True)
            if type(blk.mlp.norm).__name__ != "Identity":
                raise refuse(FAMILY, f"{where}.mlp.norm", type(blk.mlp.norm).__name__, "none")


def spec_text(model: Any) -> str:
    """The spec of a timm SwinTransformer instance (its own configuration read)."""
    _check(model)
    pe = model.patch_embed
    ph, pw = pe.proj.kernel_size
    if tuple(pe.proj.stride) != (ph, pw):
        raise refuse(FAMILY, "patch_embed stride", pe.proj.stride, "stride = patch size")
    h, w = pe.img_size
    size_lets, hn, wn = hw_spec(h, w)
    layers = list(model.layers)
    widths = [lay.blocks[0].norm1.normalized_shape[0] for lay in layers]
    heads = [lay.blocks[0].attn.num_heads for lay in layers]
    blocks = [len(lay.blocks) for lay in layers]
    windows = list(
        getattr(model, "_ref_window_sizes", [lay.blocks[0].window_size for lay in layers])
    )
    blk0 = layers[0].blocks[0]
    eps = layer_norm_eps(
        FAMILY, [m for lay in layers for b in lay.blocks for m in (b.norm1, b.norm2)]
    )
    merge_eps = layer_norm_eps(FAMILY, [lay.downsample.norm for lay in layers[1:]])
    if len(layers) > 1 and merge_eps != 1e-5:
        raise refuse(FAMILY, "patch merging norm eps", merge_eps, "1e-5")
    stem_eps = layer_norm_eps(FAMILY, [pe.norm])
    head_eps = layer_norm_eps(FAMILY, [model.norm])
    ratio = blk0.mlp.fc1.out_features / widths[0]
    act = activation(FAMILY, blk0.mlp.act)
    doubling = all(widths[i] == widths[0] * 2**i for i in range(len(widths)))
    att_drop = probability(FAMILY, "attn_drop_rate", blk0.attn.attn_drop)
    rate = drop_path_rate(FAMILY, [b for lay in layers for b in lay.blocks])
    lines = [
        f"# Swin Transformer converted from timm: depths {blocks}, C = {widths[0]}",
        f"let CHANNELS = {pe.proj.in_channels}",
        *size_lets,
        f"let C = {widths[0]}",
        f"let CLASSES = {model.head.fc.out_features}",
        "",
        f"input {{ channels = CHANNELS, D = 1, H = {hn}, W = {wn} }}",
        "",
        f"stem {{ patch = [{ph}, {pw}, 1], channels = C, norm = channel_layer"
        + (f", norm_eps = {fmt_number(stem_eps)}" if stem_eps != 1e-5 else "")
        + " }",
        "",
        "cell {",
        f"  window        = [{windows[0][0]}, {windows[0][1]}, 1]",
        "  patch         = [1, 1, 1]",
        "  window_sizing = keep_window_size",
        "  attention     = lin",
        "  mixer         = lin",
        f"  mixer_ratio   = {fmt_number(ratio)}",
        "  norm          = channel_layer",
        f"  activation    = {act}",
        "  cosine        = false",
        "  normalize_qk  = false",
    ]
    if eps != 1e-5:
        lines.append(f"  norm_eps      = {fmt_number(eps)}")
    if blk0.attn.qkv.bias is None:
        lines.append("  qkv_bias      = false")
    if att_drop:
        lines.append(f"  att_dropout   = {fmt_number(att_drop)}")
    stages = ", ".join(f'"{stage_blocks(n)}"' for n in blocks)
    lines += [
        "}",
        "",
        "backbone soanet {",
        f"  channels        = {'C' if doubling else '[' + ', '.join(map(str, widths)) + ']'}",
        f"  stages          = [{stages}]",
    ]
    if len(layers) > 1:
        lines += ["  downsample      = merge", "  downsample_norm = channel_layer"]
    else:
        lines.append("  downsample      = false")
    lines.append(f"  drop_path_rate  = {fmt_number(rate)}")
    for i, n in enumerate(heads):
        extra = ""
        if tuple(windows[i]) != tuple(windows[0]):
            extra = f", window = [{windows[i][0]}, {windows[i][1]}, 1]"
        lines.append(f"  stage {i} {{ heads = {n}{extra} }}")
    lines += [
        "}",
        "",
        "head classify { classes = CLASSES, norm = channel_layer"
        + (f", norm_eps = {fmt_number(head_eps)}" if head_eps != 1e-5 else "")
        + " }",
        "",
    ]
    return "\n".join(lines)


def convert(model: Any, ours: Any) -> dict:
    """The blockspec state dict of `ours` (compiled from `spec_text(model)`) from timm's."""
    import torch

    cv = Converter(FAMILY, model.state_dict())
    cv.put("stem.conv.weight", cv.take("patch_embed.proj.weight").unsqueeze(2))
    cv.copy("patch_embed.proj.bias", "stem.conv.bias")
    cv.copy_many((f"patch_embed.norm.{p}", f"stem.norm.{p}") for p in ("weight", "bias"))
    for i, layer in enumerate(model.layers):
        if i > 0:
            src, dst = f"layers.{i}.downsample", f"stage{i}.down.step0"
            perm = torch.tensor(merge_permutation(layer.downsample.dim, TIMM_MERGE_ORDER))
            red = cv.take(f"{src}.reduction.weight")[:, perm]
            cv.put(f"{dst}.conv.weight", red[:, :, None, None, None].clone())
            for p in ("weight", "bias"):
                cv.put(f"{dst}.norm.{p}", cv.take(f"{src}.norm.{p}")[perm].clone())
        for j, blk in enumerate(layer.blocks):
            src, dst = f"layers.{i}.blocks.{j}", f"stage{i}.cell{j}"
            for n in ("norm1", "norm2"):
                cv.copy_many((f"{src}.{n}.{p}", f"{dst}.{n}.{p}") for p in ("weight", "bias"))
            cv.qkv(f"{src}.attn.qkv", f"{dst}.attn", bias=blk.attn.qkv.bias is not None)
            cv.copy_many(
                (f"{src}.attn.proj.{p}", f"{dst}.attn.out.{p}") for p in ("weight", "bias")
            )
            for a, b in (("fc1", "fc1"), ("fc2", "fc2")):
                cv.copy_many(
                    (f"{src}.mlp.{a}.{p}", f"{dst}.mixer.{b}.{p}") for p in ("weight", "bias")
                )
            attn = ours.get_submodule(f"{dst}.attn")
            table = cv.take(f"{src}.attn.relative_position_bias_table")
            rows = position_table_map(
                blk.attn.relative_position_index,
                attn.pos_index,
                table.shape[0],
                attn.pos_table.shape[0],
            )
            cv.put(f"{dst}.attn.pos_table", table[torch.tensor(rows)].clone())
            cv.ignore([f"{src}.attn.relative_position_index", f"{src}.attn_mask"])
    cv.copy_many((f"norm.{p}", f"head.norm.{p}") for p in ("weight", "bias"))
    cv.copy_many((f"head.fc.{p}", f"head.fc.{p}") for p in ("weight", "bias"))
    return cv.finish(ours.state_dict())
