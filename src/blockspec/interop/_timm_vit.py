"""timm `VisionTransformer` -> a one-stage SOANet of V2 cells (window 1: a token per pixel)."""

from __future__ import annotations

from typing import Any

from ._common import Converter, fmt_number, refuse
from ._read import activation, drop_path_rate, hw_spec, layer_norm_eps, probability

FAMILY = "timm VisionTransformer"


def _identity(m: Any) -> bool:
    return m is None or type(m).__name__ == "Identity"


def _check(model: Any) -> None:
    if getattr(model, "num_reg_tokens", 0):
        raise refuse(FAMILY, "reg_tokens", model.num_reg_tokens, "0")
    if getattr(model, "dynamic_img_size", False):
        raise refuse(FAMILY, "dynamic_img_size", True, "False (a static size)")
    if getattr(model, "attn_pool", None) is not None:
        raise refuse(FAMILY, "global_pool", model.global_pool, "'token' or 'avg'")
    if model.global_pool not in ("token", "avg"):
        raise refuse(FAMILY, "global_pool", model.global_pool, "'token' or 'avg'")
    if model.global_pool == "avg" and not _identity(model.fc_norm):
        raise refuse(FAMILY, "fc_norm", True, "fc_norm=False (the norm before pooling)")
    if getattr(model, "pool_include_prefix", False):
        raise refuse(FAMILY, "pool_include_prefix", True, "False")
    if not _identity(model.norm_pre):
        raise refuse(FAMILY, "pre_norm", True, "False")
    if not hasattr(model.head, "weight"):
        raise refuse(FAMILY, "num_classes", 0, "a classifier (num_classes >= 1)")
    if model.pos_embed is None:
        raise refuse(FAMILY, "pos_embed", "none", "'learn'")
    if not _identity(getattr(model, "patch_drop", None)):
        raise refuse(FAMILY, "patch_drop_rate", "> 0", "0")
    for what, mod in (("drop_rate", model.head_drop), ("pos_drop_rate", model.pos_drop)):
        probability(FAMILY, what, mod, zero=True)
    for i, blk in enumerate(model.blocks):
        where = f"blocks.{i}"
        if type(blk).__name__ != "Block":
            raise refuse(FAMILY, f"{where} block_fn", type(blk).__name__, "timm's Block")
        for name in ("ls1", "ls2"):
            if not _identity(getattr(blk, name)):
                raise refuse(FAMILY, "init_values (layer scale)", "set", "None")
        a = blk.attn
        for name in ("q_norm", "k_norm", "norm"):
            if not _identity(getattr(a, name, None)):
                raise refuse(
                    FAMILY, f"{where}.attn.{name}", "set", "qk_norm=False, scale_attn_norm=False"
                )
        if not _identity(getattr(blk.mlp, "norm", None)):
            raise refuse(FAMILY, "scale_mlp_norm", True, "False")
        if a.proj.bias is None:
            raise refuse(FAMILY, "proj_bias", False, "True")
        if a.qkv.out_features != 3 * a.qkv.in_features:
            raise refuse(FAMILY, f"{where}.attn head_dim", a.head_dim, "dim // num_heads")
        probability(FAMILY, f"{where} proj_drop", a.proj_drop, zero=True)
        probability(FAMILY, f"{where} mlp drop", blk.mlp.drop1, zero=True)


def spec_text(model: Any) -> str:
    """The spec of a timm VisionTransformer instance (its own configuration read)."""
    _check(model)
    pe = model.patch_embed
    ph, pw = pe.proj.kernel_size
    if tuple(pe.proj.stride) != (ph, pw) or pe.proj.bias is None:
        raise refuse(FAMILY, "patch_embed", "stride or bias", "stride = patch size, with bias")
    h, w = pe.img_size
    size_lets, hn, wn = hw_spec(h, w)
    blocks = list(model.blocks)
    c = model.embed_dim
    blk0 = blocks[0]
    eps = layer_norm_eps(FAMILY, [m for b in blocks for m in (b.norm1, b.norm2)])
    token = model.cls_token is not None
    embed = "learned_map" if token and model.no_embed_class else "learned"
    stem = [f"patch = [{ph}, {pw}, 1]", "channels = C"]
    if not _identity(pe.norm):
        stem += ["norm = channel_layer"]
        stem_eps = layer_norm_eps(FAMILY, [pe.norm])
        if stem_eps != 1e-5:
            stem += [f"norm_eps = {fmt_number(stem_eps)}"]
    if token:
        stem.append("class_token = true")
    stem.append(f"pos_embed = {embed}")
    head = ["classes = CLASSES"]
    if not _identity(model.norm):
        head_eps = layer_norm_eps(FAMILY, [model.norm])
        head.append("norm = channel_layer")
        if head_eps != 1e-5:
            head.append(f"norm_eps = {fmt_number(head_eps)}")
    head.append(f"pool = {'token' if model.global_pool == 'token' else 'mean'}")
    att_drop = probability(FAMILY, "attn_drop_rate", blk0.attn.attn_drop)
    rate = drop_path_rate(FAMILY, blocks)
    cell = [
        "  window       = [1, 1, 1]",
        f"  heads        = {blk0.attn.num_heads}",
        "  attention    = lin",
        "  mixer        = lin",
        f"  mixer_ratio  = {fmt_number(blk0.mlp.fc1.out_features / c)}",
        "  norm         = channel_layer",
        f"  activation   = {activation(FAMILY, blk0.mlp.act)}",
        "  cosine       = false",
        "  normalize_qk = false",
        "  rel_pos_bias = false",
    ]
    if eps != 1e-5:
        cell.append(f"  norm_eps     = {fmt_number(eps)}")
    if blk0.attn.qkv.bias is None:
        cell.append("  qkv_bias     = false")
    if att_drop:
        cell.append(f"  att_dropout  = {fmt_number(att_drop)}")
    lines = [
        f"# ViT converted from timm ({len(blocks)} blocks, C = {c}, patch {ph}x{pw})",
        f"let CHANNELS = {pe.proj.in_channels}",
        *size_lets,
        f"let C = {c}",
        f"let CLASSES = {model.head.out_features}",
        "",
        f"input {{ channels = CHANNELS, D = 1, H = {hn}, W = {wn} }}",
        "",
        f"stem {{ {', '.join(stem)} }}",
        "",
        "cell {",
        *cell,
        "}",
        "",
        "backbone soanet {",
        "  channels       = C",
        f'  stages         = ["(V2)*{len(blocks)}"]',
        "  downsample     = false",
        f"  drop_path_rate = {fmt_number(rate)}",
        "}",
        "",
        f"head classify {{ {', '.join(head)} }}",
        "",
    ]
    return "\n".join(lines)


def convert(model: Any, ours: Any) -> dict:
    """The blockspec state dict of `ours` (compiled from `spec_text(model)`) from timm's."""
    cv = Converter(FAMILY, model.state_dict())
    cv.put("stem.conv.weight", cv.take("patch_embed.proj.weight").unsqueeze(2))
    cv.copy("patch_embed.proj.bias", "stem.conv.bias")
    if not _identity(model.patch_embed.norm):
        cv.copy_many((f"patch_embed.norm.{p}", f"stem.norm.{p}") for p in ("weight", "bias"))
    if model.cls_token is not None:
        cv.put("stem.class_token", cv.take("cls_token").reshape(-1).clone())
    cv.put("stem.pos_embed", cv.take("pos_embed")[0].clone())
    for i, blk in enumerate(model.blocks):
        src, dst = f"blocks.{i}", f"stage0.cell{i}"
        for n in ("norm1", "norm2"):
            cv.copy_many((f"{src}.{n}.{p}", f"{dst}.{n}.{p}") for p in ("weight", "bias"))
        cv.qkv(f"{src}.attn.qkv", f"{dst}.attn", bias=blk.attn.qkv.bias is not None)
        cv.copy_many((f"{src}.attn.proj.{p}", f"{dst}.attn.out.{p}") for p in ("weight", "bias"))
        for n in ("fc1", "fc2"):
            cv.copy_many((f"{src}.mlp.{n}.{p}", f"{dst}.mixer.{n}.{p}") for p in ("weight", "bias"))
    if not _identity(model.norm):
        cv.copy_many((f"norm.{p}", f"head.norm.{p}") for p in ("weight", "bias"))
    cv.copy_many((f"head.{p}", f"head.fc.{p}") for p in ("weight", "bias"))
    return cv.finish(ours.state_dict())
