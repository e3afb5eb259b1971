"""MONAI `ViT` (2D or 3D) -> a one-stage SOANet of V2 / V3 cells (window 1: a token per pixel).

MONAI's ``TransformerBlock`` keeps a ``norm_cross_attn`` LayerNorm that its forward never uses
without cross attention; the converter checks that and drops it (it has no blockspec module).
"""

from __future__ import annotations

import math
from typing import Any

from ._common import Converter, cell_lines, document, eps_entry, refuse, vit_backbone
from ._read import activation, dhw_spec, hw_spec, layer_norm_eps, probability

FAMILY = "MONAI ViT"


def _check(model: Any) -> None:
    pe = model.patch_embedding
    if pe.proj_type != "conv":
        raise refuse(FAMILY, "proj_type", pe.proj_type, "'conv'")
    probability(FAMILY, "dropout_rate", pe.dropout, zero=True)
    head = getattr(model, "classification_head", None)
    if head is not None and not hasattr(head, "weight"):
        raise refuse(
            FAMILY, "post_activation", "Tanh", "post_activation=None (a plain linear head)"
        )
    for i, blk in enumerate(model.blocks):
        a = blk.attn
        if getattr(blk, "with_cross_attention", False):
            raise refuse(FAMILY, "with_cross_attention", True, "False")
        for name, ok in (("causal", False), ("rel_positional_embedding", None)):
            if getattr(a, name, ok) not in (ok, False):
                raise refuse(FAMILY, f"blocks.{i}.attn.{name}", "set", "none")
        if not getattr(a, "include_fc", True):
            raise refuse(FAMILY, "include_fc", False, "True")
        if a.inner_dim != a.hidden_input_size:
            raise refuse(FAMILY, "dim_head", a.dim_head, "hidden_size // num_heads")
        probability(FAMILY, "dropout_rate", a.drop_output, zero=True)
        probability(FAMILY, "dropout_rate", blk.mlp.drop1, zero=True)


def _qkv_bias(attn: Any) -> bool:
    lin = attn.qkv if attn.use_combined_linear else attn.to_q
    return lin.bias is not None


def spec_text(model: Any, size: Any = None) -> str:
    """The spec of a MONAI ViT instance (its own configuration read); `size` is its
    ``img_size`` (MONAI does not keep it: by default a cube/square from the patch count)."""
    _check(model)
    pe = model.patch_embedding
    conv = pe.patch_embeddings
    patch = tuple(conv.kernel_size)
    n = int(pe.n_patches)
    img = () if size is None else tuple(int(s) for s in size)
    blocks = list(model.blocks)
    c = int(pe.position_embeddings.shape[-1])
    three_d = len(patch) == 3
    if not img:  # MONAI keeps no image size: a cube/square from the patch count
        side = round(n ** (1 / len(patch)))
        img = tuple(side * p for p in patch)
    if len(img) != len(patch) or math.prod(s // p for s, p in zip(img, patch)) != n:
        raise refuse(FAMILY, "img_size", img or None, f"a size with {n} patches (pass size=...)")
    if three_d:
        size_lets, dims = dhw_spec(img)
        patch_hwd = f"[{patch[1]}, {patch[2]}, {patch[0]}]"
    else:
        size_lets, hn, wn = hw_spec(*img)
        dims = f"D = 1, H = {hn}, W = {wn}"
        patch_hwd = f"[{patch[0]}, {patch[1]}, 1]"
    classify = hasattr(model, "classification_head")
    stem = [f"patch = {patch_hwd}", "channels = C"]
    if classify:
        stem.append("class_token = true")
    stem.append("pos_embed = learned_map")
    blk0 = blocks[0]
    cell = cell_lines(
        ["window = [1, 1, 1]", f"heads = {blk0.attn.num_heads}"],
        ratio=blk0.mlp.linear1.out_features / c,
        act=activation(FAMILY, blk0.mlp.fn),
        eps=layer_norm_eps(FAMILY, [m for b in blocks for m in (b.norm1, b.norm2)]),
        qkv_bias=_qkv_bias(blk0.attn),
        tail=["rel_pos_bias = false"],
    )
    out_eps = eps_entry(layer_norm_eps(FAMILY, [model.norm]))
    lets = [f"let CHANNELS = {conv.in_channels}", *size_lets, f"let C = {c}"]
    stage = f"({'V3' if three_d else 'V2'})*{len(blocks)}"
    if classify:
        lets.append(f"let CLASSES = {model.classification_head.out_features}")
        head = ", ".join(["classes = CLASSES", "norm = channel_layer", *out_eps, "pool = token"])
        sections = [cell, vit_backbone(stage, 0), [f"head classify {{ {head} }}"]]
    else:
        if out_eps:
            raise refuse(FAMILY, "final norm eps", model.norm.eps, "1e-5")
        sections = [cell, vit_backbone(stage, 0, ["output_norm = channel_layer"])]
    return document(
        f"MONAI ViT, converted ({len(blocks)} blocks, C = {c}, "
        f"{'classifier' if classify else 'encoder'})",
        lets,
        dims,
        stem,
        sections,
    )


def frozen(model: Any) -> tuple[str, ...]:
    """blockspec parameters to freeze: ``stem.pos_embed`` where MONAI's position embedding
    does not train (``pos_embed_type = "sincos"``; ``"none"`` keeps a trainable zero one)."""
    trains = model.patch_embedding.position_embeddings.requires_grad
    return () if trains else ("stem.pos_embed",)


def convert(model: Any, ours: Any) -> dict:
    """The blockspec state dict of `ours` (compiled from `spec_text(model)`) from MONAI's."""
    cv = Converter(FAMILY, model.state_dict())
    cv.stem_conv("patch_embedding.patch_embeddings")
    cv.put("stem.pos_embed", cv.take("patch_embedding.position_embeddings")[0].clone())
    classify = hasattr(model, "classification_head")
    if classify:
        cv.put("stem.class_token", cv.take("cls_token").reshape(-1).clone())
    for i, blk in enumerate(model.blocks):
        src, dst = f"blocks.{i}", f"stage0.cell{i}"
        cv.block(src, dst, qkv_bias=_qkv_bias(blk.attn), proj="attn.out_proj",
                 mlp=("linear1", "linear2"), fused=blk.attn.use_combined_linear)  # fmt: skip
        cv.ignore([f"{src}.norm_cross_attn.weight", f"{src}.norm_cross_attn.bias"])
    norm = "head.norm" if classify else "outputs.norm0"
    cv.affine("norm", norm)
    if classify:
        cv.affine("classification_head", "head.fc")
    return cv.finish(ours.state_dict())


def unused_parameters(model: Any) -> int:
    """Parameters of the MONAI ViT that its forward never uses (the idle cross-attention norms)."""
    return sum(p.numel() for n, p in model.named_parameters() if ".norm_cross_attn." in n)
