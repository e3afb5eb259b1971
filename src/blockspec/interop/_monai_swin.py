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

from ._common import (
    Converter,
    fmt_number,
    merge_permutation,
    position_table_map,
    refuse,
    stage_blocks,
)
from ._read import activation, dhw_spec, drop_path_rate, layer_norm_eps, probability

FAMILY = "MONAI SwinTransformer"
#: neighbours (d, h, w) in the order MONAI concatenates them
MERGE_ORDERS = {
    "PatchMerging": (
        (0, 0, 0), (1, 0, 0), (0, 1, 0), (0, 0, 1), (1, 1, 0), (1, 0, 1), (0, 1, 1), (1, 1, 1),
    ),
    "PatchMergingV2": tuple(itertools.product(range(2), repeat=3)),
}  # fmt: skip


def encoder(model: Any) -> tuple[Any, bool]:
    """The SwinTransformer of a SwinUNETR (or the model itself) and whether it normalises."""
    if type(model).__name__ == "SwinUNETR":
        return model.swinViT, bool(getattr(model, "normalize", True))
    return model, True


def _layers(enc: Any) -> list[Any]:
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


def _hwd(v: Sequence[int]) -> str:
    """MONAI's (s0, s1, s2) as a spec triple [H, W, D]."""
    return f"[{v[1]}, {v[2]}, {v[0]}]"


def spec_text(model: Any, size: Sequence[int] = (96, 96, 96)) -> str:
    """The spec of a MONAI SwinTransformer / SwinUNETR encoder for inputs of `size` (s0, s1, s2)."""
    enc, normalize = encoder(model)
    _check(enc)
    layers = _layers(enc)
    pe = enc.patch_embed
    patch = tuple(pe.proj.kernel_size)
    if tuple(pe.proj.stride) != patch:
        raise refuse(FAMILY, "patch_embed stride", pe.proj.stride, "stride = patch size")
    size_lets, dims = dhw_spec(size)
    blocks = [len(lay.blocks) for lay in layers]
    heads = [lay.blocks[0].attn.num_heads for lay in layers]
    blk0 = layers[0].blocks[0]
    norms = [m for lay in layers for b in lay.blocks for m in (b.norm1, b.norm2)]
    eps = layer_norm_eps(FAMILY, norms)
    if layer_norm_eps(FAMILY, [lay.downsample.norm for lay in layers]) != 1e-5:
        raise refuse(FAMILY, "patch merging norm eps", "not 1e-5", "1e-5")
    stem = [f"patch = {_hwd(patch)}", "channels = C"]
    if pe.norm is not None:
        stem.append("norm = channel_layer")
        stem_eps = layer_norm_eps(FAMILY, [pe.norm])
        if stem_eps != 1e-5:
            stem.append(f"norm_eps = {fmt_number(stem_eps)}")
    att_drop = probability(FAMILY, "attn_drop_rate", blk0.attn.attn_drop)
    rate = drop_path_rate(FAMILY, [b for lay in layers for b in lay.blocks])
    cell = [
        f"  window         = {_hwd(enc.window_size)}",
        "  patch          = [1, 1, 1]",
        "  window_sizing  = keep_window_size",
        "  window_padding = true",
        "  rel_pos_table  = written_window",
        "  attention      = lin",
        "  mixer          = lin",
        f"  mixer_ratio    = {fmt_number(blk0.mlp.linear1.out_features / enc.embed_dim)}",
        "  norm           = channel_layer",
        f"  activation     = {activation(FAMILY, blk0.mlp.fn)}",
        "  cosine         = false",
        "  normalize_qk   = false",
    ]
    if eps != 1e-5:
        cell.append(f"  norm_eps       = {fmt_number(eps)}")
    if blk0.attn.qkv.bias is None:
        cell.append("  qkv_bias       = false")
    if att_drop:
        cell.append(f"  att_dropout    = {fmt_number(att_drop)}")
    stages = ", ".join(f'"{stage_blocks(n)}"' for n in blocks)
    lines = [
        f"# MONAI SwinUNETR encoder (SwinTransformer), converted: depths {blocks}, "
        f"C = {enc.embed_dim}",
        f"let CHANNELS = {pe.proj.in_channels}",
        *size_lets,
        f"let C = {enc.embed_dim}",
        "",
        f"input {{ channels = CHANNELS, {dims} }}",
        "",
        f"stem {{ {', '.join(stem)} }}",
        "",
        "cell {",
        *cell,
        "}",
        "",
        "backbone soanet {",
        "  channels         = C",
        f"  stages           = [{stages}]",
        "  downsample       = merge",
        "  downsample_depth = true",
        "  downsample_norm  = channel_layer",
        "  final_downsample = true",
        "  outputs          = stage_inputs",
        f"  output_norm      = {'channel_layer_plain' if normalize else 'none'}",
        f"  drop_path_rate   = {fmt_number(rate)}",
        *(f"  stage {i} {{ heads = {n} }}" for i, n in enumerate(heads)),
        "}",
        "",
    ]
    return "\n".join(lines)


def convert(model: Any, ours: Any) -> dict:
    """The blockspec state dict of `ours` (compiled from `spec_text(model)`) from MONAI's."""
    import torch

    enc, _ = encoder(model)
    cv = Converter(FAMILY, enc.state_dict())
    cv.copy_many((f"patch_embed.proj.{p}", f"stem.conv.{p}") for p in ("weight", "bias"))
    if enc.patch_embed.norm is not None:
        cv.copy_many((f"patch_embed.norm.{p}", f"stem.norm.{p}") for p in ("weight", "bias"))
    layers = _layers(enc)
    for i, lay in enumerate(layers):
        for j, blk in enumerate(lay.blocks):
            src, dst = f"layers{i + 1}.0.blocks.{j}", f"stage{i}.cell{j}"
            for n in ("norm1", "norm2"):
                cv.copy_many((f"{src}.{n}.{p}", f"{dst}.{n}.{p}") for p in ("weight", "bias"))
            cv.qkv(f"{src}.attn.qkv", f"{dst}.attn", bias=blk.attn.qkv.bias is not None)
            cv.copy_many(
                (f"{src}.attn.proj.{p}", f"{dst}.attn.out.{p}") for p in ("weight", "bias")
            )
            for a, b in (("linear1", "fc1"), ("linear2", "fc2")):
                cv.copy_many(
                    (f"{src}.mlp.{a}.{p}", f"{dst}.mixer.{b}.{p}") for p in ("weight", "bias")
                )
            attn = ours.get_submodule(f"{dst}.attn")
            n = int(attn.pos_index.numel() ** 0.5)
            table = cv.take(f"{src}.attn.relative_position_bias_table")
            index = cv.take(f"{src}.attn.relative_position_index")[:n, :n]
            rows = position_table_map(
                index, attn.pos_index, table.shape[0], attn.pos_table.shape[0]
            )
            cv.put(f"{dst}.attn.pos_table", table[torch.tensor(rows)].clone())
        src = f"layers{i + 1}.0.downsample"
        dst = f"stage{i + 1}.down.step0" if i + 1 < len(layers) else "down_out.step0"
        order = [(h, w, d) for d, h, w in MERGE_ORDERS[type(lay.downsample).__name__]]
        perm = torch.tensor(merge_permutation(lay.downsample.dim, order))
        red = cv.take(f"{src}.reduction.weight")[:, perm]
        cv.put(f"{dst}.conv.weight", red[:, :, None, None, None].clone())
        for p in ("weight", "bias"):
            cv.put(f"{dst}.norm.{p}", cv.take(f"{src}.norm.{p}")[perm].clone())
    return cv.finish(ours.state_dict())
