"""MONAI `ViT` (2D or 3D) -> a one-stage SOANet of V2 / V3 cells (window 1: a token per pixel).

MONAI's ``TransformerBlock`` keeps a ``norm_cross_attn`` LayerNorm that its forward never uses
without cross attention; the converter checks that and drops it (it has no blockspec module).
"""

from __future__ import annotations

import math
from typing import Any

from ._common import Converter, fmt_number, refuse
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
    eps = layer_norm_eps(FAMILY, [m for b in blocks for m in (b.norm1, b.norm2)])
    out_eps = layer_norm_eps(FAMILY, [model.norm])
    classify = hasattr(model, "classification_head")
    stem = [f"patch = {patch_hwd}", "channels = C"]
    if classify:
        stem.append("class_token = true")
    stem.append("pos_embed = learned_map")
    blk0 = blocks[0]
    cell = [
        "  window       = [1, 1, 1]",
        f"  heads        = {blk0.attn.num_heads}",
        "  attention    = lin",
        "  mixer        = lin",
        f"  mixer_ratio  = {fmt_number(blk0.mlp.linear1.out_features / c)}",
        "  norm         = channel_layer",
        f"  activation   = {activation(FAMILY, blk0.mlp.fn)}",
        "  cosine       = false",
        "  normalize_qk = false",
        "  rel_pos_bias = false",
    ]
    if eps != 1e-5:
        cell.append(f"  norm_eps     = {fmt_number(eps)}")
    if not _qkv_bias(blk0.attn):
        cell.append("  qkv_bias     = false")
    code = "V3" if three_d else "V2"
    lines = [
        f"# MONAI ViT, converted ({len(blocks)} blocks, C = {c}, "
        f"{'classifier' if classify else 'encoder'})",
        f"let CHANNELS = {conv.in_channels}",
        *size_lets,
        f"let C = {c}",
    ]
    if classify:
        lines.append(f"let CLASSES = {model.classification_head.out_features}")
    lines += [
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
        "  channels       = C",
        f'  stages         = ["({code})*{len(blocks)}"]',
        "  downsample     = false",
        "  drop_path_rate = 0",
    ]
    eps_text = f", norm_eps = {fmt_number(out_eps)}" if out_eps != 1e-5 else ""
    if classify:
        lines += [
            "}",
            "",
            f"head classify {{ classes = CLASSES, norm = channel_layer{eps_text}, pool = token }}",
        ]
    else:
        if eps_text:
            raise refuse(FAMILY, "final norm eps", out_eps, "1e-5")
        lines += ["  output_norm    = channel_layer", "}"]
    lines.append("")
    return "\n".join(lines)


def convert(model: Any, ours: Any) -> dict:
    """The blockspec state dict of `ours` (compiled from `spec_text(model)`) from MONAI's."""
    cv = Converter(FAMILY, model.state_dict())
    w = cv.take("patch_embedding.patch_embeddings.weight")
    cv.put("stem.conv.weight", w if w.dim() == 5 else w.unsqueeze(2))
    cv.copy("patch_embedding.patch_embeddings.bias", "stem.conv.bias")
    cv.put("stem.pos_embed", cv.take("patch_embedding.position_embeddings")[0].clone())
    classify = hasattr(model, "classification_head")
    if classify:
        cv.put("stem.class_token", cv.take("cls_token").reshape(-1).clone())
    for i, blk in enumerate(model.blocks):
        src, dst = f"blocks.{i}", f"stage0.cell{i}"
        for n in ("norm1", "norm2"):
            cv.copy_many((f"{src}.{n}.{p}", f"{dst}.{n}.{p}") for p in ("weight", "bias"))
        bias = _qkv_bias(blk.attn)
        if blk.attn.use_combined_linear:
            cv.qkv(f"{src}.attn.qkv", f"{dst}.attn", bias=bias)
        else:
            for x in "qkv":
                parts = ("weight", "bias") if bias else ("weight",)
                cv.copy_many((f"{src}.attn.to_{x}.{p}", f"{dst}.attn.{x}.{p}") for p in parts)
        cv.copy_many(
            (f"{src}.attn.out_proj.{p}", f"{dst}.attn.out.{p}") for p in ("weight", "bias")
        )
        for a, b in (("linear1", "fc1"), ("linear2", "fc2")):
            cv.copy_many((f"{src}.mlp.{a}.{p}", f"{dst}.mixer.{b}.{p}") for p in ("weight", "bias"))
        cv.ignore([f"{src}.norm_cross_attn.weight", f"{src}.norm_cross_attn.bias"])
    norm = "head.norm" if classify else "outputs.norm0"
    cv.copy_many((f"norm.{p}", f"{norm}.{p}") for p in ("weight", "bias"))
    if classify:
        cv.copy_many((f"classification_head.{p}", f"head.fc.{p}") for p in ("weight", "bias"))
    return cv.finish(ours.state_dict())


def unused_parameters(model: Any) -> int:
    """Parameters of the MONAI ViT that its forward never uses (the idle cross-attention norms)."""
    return sum(p.numel() for n, p in model.named_parameters() if ".norm_cross_attn." in n)
