"""timm `VisionTransformer` -> a one-stage SOANet of V2 cells (window 1: a token per pixel)."""

from __future__ import annotations

from typing import Any

from ._common import Converter, cell_lines, document, eps_entry, refuse, vit_backbone
from ._read import activation, check_head_dim, drop_path_rate, hw_spec, layer_norm_eps, probability

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
        check_head_dim(FAMILY, a.qkv, a.num_heads)
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
    token = model.cls_token is not None
    stem = [f"patch = [{ph}, {pw}, 1]", "channels = C"]
    if not _identity(pe.norm):
        stem += ["norm = channel_layer", *eps_entry(layer_norm_eps(FAMILY, [pe.norm]))]
    if token:
        stem.append("class_token = true")
    stem.append(f"pos_embed = {'learned_map' if token and model.no_embed_class else 'learned'}")
    head = ["classes = CLASSES"]
    if not _identity(model.norm):
        head += ["norm = channel_layer", *eps_entry(layer_norm_eps(FAMILY, [model.norm]))]
    head.append(f"pool = {'token' if model.global_pool == 'token' else 'mean'}")
    cell = cell_lines(
        ["window = [1, 1, 1]", f"heads = {blk0.attn.num_heads}"],
        ratio=blk0.mlp.fc1.out_features / c,
        act=activation(FAMILY, blk0.mlp.act),
        eps=layer_norm_eps(FAMILY, [m for b in blocks for m in (b.norm1, b.norm2)]),
        qkv_bias=blk0.attn.qkv.bias is not None,
        att_drop=probability(FAMILY, "attn_drop_rate", blk0.attn.attn_drop),
        tail=["rel_pos_bias = false"],
    )
    backbone = vit_backbone(f"(V2)*{len(blocks)}", drop_path_rate(FAMILY, blocks))
    return document(
        f"ViT converted from timm ({len(blocks)} blocks, C = {c}, patch {ph}x{pw})",
        [f"let CHANNELS = {pe.proj.in_channels}", *size_lets, f"let C = {c}",
         f"let CLASSES = {model.head.out_features}"],
        f"D = 1, H = {hn}, W = {wn}",
        stem,
        [cell, backbone, [f"head classify {{ {', '.join(head)} }}"]],
    )  # fmt: skip


def convert(model: Any, ours: Any) -> dict:
    """The blockspec state dict of `ours` (compiled from `spec_text(model)`) from timm's."""
    cv = Converter(FAMILY, model.state_dict())
    cv.stem_conv("patch_embed.proj")
    if not _identity(model.patch_embed.norm):
        cv.affine("patch_embed.norm", "stem.norm")
    if model.cls_token is not None:
        cv.put("stem.class_token", cv.take("cls_token").reshape(-1).clone())
    cv.put("stem.pos_embed", cv.take("pos_embed")[0].clone())
    for i, blk in enumerate(model.blocks):
        bias = blk.attn.qkv.bias is not None
        cv.block(f"blocks.{i}", f"stage0.cell{i}", qkv_bias=bias, proj="attn.proj",
                 mlp=("fc1", "fc2"))  # fmt: skip
    if not _identity(model.norm):
        cv.affine("norm", "head.norm")
    cv.affine("head", "head.fc")
    return cv.finish(ours.state_dict())
