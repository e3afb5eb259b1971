"""timm `SwinTransformer` -> a SOANet of S3/Sh cells with merge downsampling."""

from __future__ import annotations

from typing import Any

from ._common import DEFAULT_EPS, Converter, cell_lines, document, eps_entry, refuse
from ._common import swin_backbone as backbone_lines
from ._read import activation, check_head_dim, drop_path_rate, hw_spec, layer_norm_eps, probability

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
            check_head_dim(FAMILY, attn.qkv, attn.num_heads)
            probability(FAMILY, f"{where} proj_drop", attn.proj_drop, zero=True)
            probability(FAMILY, f"{where} mlp drop", blk.mlp.drop1, zero=True)
            if type(blk.mlp.norm).__name__ != "Identity":
                raise refuse(FAMILY, f"{where}.mlp.norm", type(blk.mlp.norm).__name__, "none")


def _check_maps(model: Any, img: tuple[int, int], patch: tuple[int, int]) -> None:
    """Every stage's map must be a multiple of its window or fit in it (timm then clamps the
    window to the map and does not shift, as blockspec does), and halve exactly.

    timm pads a map the window does not divide AFTER its cyclic shift (and pads odd maps
    before merging); blockspec's ``window_padding`` pads before the shift (MONAI's order), a
    different computation, so such sizes are refused."""
    layers = list(model.layers)
    win0 = tuple(layers[0].blocks[0].window_size)
    step = [p * w * 2 ** (len(layers) - 1) for p, w in zip(patch, win0, strict=True)]
    works = (
        f"an img_size whose every stage map (img_size / patch / 2^i) is a multiple of the "
        f"window or at most the window, e.g. a multiple of {step[0]} x {step[1]}"
    )
    if any(s % p for s, p in zip(img, patch, strict=True)):
        raise refuse(FAMILY, "img_size", img, f"a multiple of the patch {patch}; {works}")
    grid = [s // p for s, p in zip(img, patch, strict=True)]
    for i, lay in enumerate(layers):
        if i > 0:
            if any(g % 2 for g in grid):
                raise refuse(
                    FAMILY, f"img_size (window_size {win0})", img,
                    f"{works} (stage {i - 1}'s map {grid} is odd: timm pads it before merging)",
                )  # fmt: skip
            grid = [g // 2 for g in grid]
        win = tuple(lay.blocks[0].window_size)
        if any(g > w and g % w for g, w in zip(grid, win, strict=True)):
            raise refuse(
                FAMILY, f"img_size (window_size {win0})", img,
                f"{works} (stage {i}'s map {grid} is not a multiple of the window {list(win)}:"
                " timm pads after its cyclic shift, blockspec before it)",
            )  # fmt: skip


def spec_text(model: Any) -> str:
    """The spec of a timm SwinTransformer instance (its own configuration read)."""
    _check(model)
    pe = model.patch_embed
    ph, pw = pe.proj.kernel_size
    if tuple(pe.proj.stride) != (ph, pw):
        raise refuse(FAMILY, "patch_embed stride", pe.proj.stride, "stride = patch size")
    h, w = pe.img_size
    _check_maps(model, (h, w), (ph, pw))
    size_lets, hn, wn = hw_spec(h, w)
    layers = list(model.layers)
    widths = [lay.blocks[0].norm1.normalized_shape[0] for lay in layers]
    heads = [lay.blocks[0].attn.num_heads for lay in layers]
    blocks = [len(lay.blocks) for lay in layers]
    windows = [lay.blocks[0].window_size for lay in layers]
    blk0 = layers[0].blocks[0]
    eps = layer_norm_eps(
        FAMILY, [m for lay in layers for b in lay.blocks for m in (b.norm1, b.norm2)]
    )
    merge_eps = layer_norm_eps(FAMILY, [lay.downsample.norm for lay in layers[1:]])
    if len(layers) > 1 and merge_eps != DEFAULT_EPS:
        raise refuse(FAMILY, "patch merging norm eps", merge_eps, "1e-5")
    stem_eps = layer_norm_eps(FAMILY, [pe.norm])
    head_eps = layer_norm_eps(FAMILY, [model.norm])
    doubling = all(widths[i] == widths[0] * 2**i for i in range(len(widths)))
    cell = cell_lines(
        [f"window = [{windows[0][0]}, {windows[0][1]}, 1]", "patch = [1, 1, 1]",
         "window_sizing = keep_window_size"],
        ratio=blk0.mlp.fc1.out_features / widths[0],
        act=activation(FAMILY, blk0.mlp.act),
        eps=eps,
        qkv_bias=blk0.attn.qkv.bias is not None,
        att_drop=probability(FAMILY, "attn_drop_rate", blk0.attn.attn_drop),
    )  # fmt: skip
    if len(layers) > 1:
        down = ["downsample = merge", "downsample_norm = channel_layer"]
    else:
        down = ["downsample = false"]
    stages = []
    for i, n in enumerate(heads):
        extra = ""
        if tuple(windows[i]) != tuple(windows[0]):
            extra = f", window = [{windows[i][0]}, {windows[i][1]}, 1]"
        stages.append(f"stage {i} {{ heads = {n}{extra} }}")
    backbone = backbone_lines(
        "C" if doubling else "[" + ", ".join(map(str, widths)) + "]",
        blocks,
        drop_path_rate(FAMILY, [b for lay in layers for b in lay.blocks]),
        down,
        stages,
    )
    head = ", ".join(["classes = CLASSES", "norm = channel_layer", *eps_entry(head_eps)])
    return document(
        f"Swin Transformer converted from timm: depths {blocks}, C = {widths[0]}",
        [f"let CHANNELS = {pe.proj.in_channels}", *size_lets, f"let C = {widths[0]}",
         f"let CLASSES = {model.head.fc.out_features}"],
        f"D = 1, H = {hn}, W = {wn}",
        [f"patch = [{ph}, {pw}, 1]", "channels = C", "norm = channel_layer",
         *eps_entry(stem_eps)],
        [cell, backbone, [f"head classify {{ {head} }}"]],
    )  # fmt: skip


def convert(model: Any, ours: Any) -> dict:
    """The blockspec state dict of `ours` (compiled from `spec_text(model)`) from timm's."""
    cv = Converter(FAMILY, model.state_dict())
    cv.stem_conv("patch_embed.proj")
    cv.affine("patch_embed.norm", "stem.norm")
    for i, layer in enumerate(model.layers):
        if i > 0:
            cv.merge(
                f"layers.{i}.downsample", f"stage{i}.down.step0", layer.downsample.dim,
                TIMM_MERGE_ORDER,
            )  # fmt: skip
        for j, blk in enumerate(layer.blocks):
            src, dst = f"layers.{i}.blocks.{j}", f"stage{i}.cell{j}"
            bias = blk.attn.qkv.bias is not None
            cv.block(src, dst, qkv_bias=bias, proj="attn.proj", mlp=("fc1", "fc2"))
            cv.pos_table(
                f"{src}.attn.relative_position_bias_table", f"{dst}.attn.pos_table",
                blk.attn.relative_position_index, ours.get_submodule(f"{dst}.attn"),
            )  # fmt: skip
            cv.ignore([f"{src}.attn.relative_position_index", f"{src}.attn_mask"])
    cv.affine("norm", "head.norm")
    cv.affine("head.fc", "head.fc")
    return cv.finish(ours.state_dict())
