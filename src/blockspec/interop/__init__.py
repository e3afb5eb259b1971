"""Converters from timm and MONAI models to blockspec specs and weights (docs/interop.md).

``to_spec_timm(model)`` / ``to_spec_monai(model)`` return ``(spec_text, state_dict)``: the
spec is written from the reference model's own configuration, the weights are re-keyed (fused
qkv split, merge channels permuted, position tables mapped by offset), and every reference
key is used exactly once. ``from_timm`` / ``from_monai`` return the compiled blockspec model
with those weights loaded (``model.spec`` set). ``*_state_dict`` variants build the reference
from its constructor arguments first. Neither timm nor MONAI is imported until a converter
needs it; a model or argument the language cannot express raises `UnsupportedModelError`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ._common import ConversionError, UnsupportedModelError, build

__all__ = [
    "to_spec_timm", "from_timm", "from_timm_state_dict", "to_spec_monai", "from_monai",
    "from_monai_state_dict", "UnsupportedModelError", "ConversionError",
]  # fmt: skip

_MONAI_KINDS = ("SwinUNETR", "SwinTransformer", "ViT")


def _family(model: Any, table: dict[str, Any], source: str) -> Any:
    name = type(model).__name__
    for cls_name, module in table.items():
        if name == cls_name:
            return module
    raise UnsupportedModelError(
        f"{source}: a {name} cannot be converted",
        hint=f"supported: {', '.join(table)}",
    )


def _timm_families() -> dict[str, Any]:
    from . import _timm_swin, _timm_vit

    return {"SwinTransformer": _timm_swin, "VisionTransformer": _timm_vit}


def _monai_families() -> dict[str, Any]:
    from . import _monai_swin, _monai_vit

    return {"SwinUNETR": _monai_swin, "SwinTransformer": _monai_swin, "ViT": _monai_vit}


def _convert(model: Any, family: Any, **options: Any) -> tuple[str, dict]:
    from .. import api

    text = family.spec_text(model, **options)
    ours = api.compile(text, seed=0)
    return text, family.convert(model, ours)


def to_spec_timm(model: Any) -> tuple[str, dict]:
    """``(spec_text, state_dict)`` of a timm SwinTransformer or VisionTransformer instance;
    every tensor keeps the reference's dtype."""
    return _convert(model, _family(model, _timm_families(), "timm"))


def to_spec_monai(
    model: Any, size: Sequence[int] | None = None, normalize: bool | None = None
) -> tuple[str, dict]:
    """``(spec_text, state_dict)`` of a MONAI SwinUNETR (its ``swinViT`` encoder; the decoder is
    not converted), SwinTransformer or ViT instance; every tensor keeps the reference's dtype.
    `size` is the input size (s0, s1, s2) the spec is written for: MONAI's Swin keeps none
    (default 96^3); a ViT's default is the cube (square) its patch count implies.
    `normalize` (Swin only): whether the outputs are normalised (``output_norm =
    channel_layer_plain``) as MONAI's ``forward(x, normalize)``; default: a SwinUNETR's own
    ``.normalize``, True for a bare SwinTransformer."""
    family = _family(model, _monai_families(), "MONAI")
    if not family.__name__.endswith("_monai_swin"):
        if normalize is not None:
            raise UnsupportedModelError(
                f"MONAI: normalize applies to SwinTransformer / SwinUNETR, not to a "
                f"{type(model).__name__}",
                hint="leave normalize unset",
            )
        return _convert(model, family, size=size)
    return _convert(model, family, size=(96, 96, 96) if size is None else size, normalize=normalize)


def _loaded(text: str, state: dict, model: Any, family: Any) -> Any:
    dtype = next((p.dtype for p in model.parameters()), None)
    frozen = family.frozen(model) if hasattr(family, "frozen") else ()
    return build(text, state, dtype=dtype, frozen=frozen)


def from_timm(model: Any) -> Any:
    """The compiled blockspec model of a timm model, its weights loaded (eval mode), in the
    reference's dtype."""
    text, state = to_spec_timm(model)
    return _loaded(text, state, model, _family(model, _timm_families(), "timm"))


def from_monai(model: Any, size: Sequence[int] | None = None, normalize: bool | None = None) -> Any:
    """The compiled blockspec model of a MONAI model, its weights loaded (eval mode), in the
    reference's dtype; parameters MONAI does not train (a sincos position embedding) are
    frozen. `size` and `normalize` as in `to_spec_monai`."""
    text, state = to_spec_monai(model, size, normalize)
    return _loaded(text, state, model, _family(model, _monai_families(), "MONAI"))


def from_timm_state_dict(name: str, state_dict: dict, **kwargs: Any) -> Any:
    """`from_timm` of ``timm.create_model(name, **kwargs)`` with `state_dict` loaded strictly
    (e.g. a checkpoint saved from timm, and the arguments it was built with)."""
    import timm

    ref = timm.create_model(name, pretrained=False, **kwargs)
    ref.load_state_dict(state_dict, strict=True)
    return from_timm(ref)


def from_monai_state_dict(
    kind: str, state_dict: dict, size: Sequence[int] | None = None, **kwargs: Any
) -> Any:
    """`from_monai` of ``monai.networks.nets.<kind>(**kwargs)`` with `state_dict` loaded
    strictly; `kind` is "SwinUNETR", "SwinTransformer" or "ViT"."""
    if kind not in _MONAI_KINDS:
        raise UnsupportedModelError(
            f"MONAI: {kind!r} cannot be converted", hint=f"supported: {', '.join(_MONAI_KINDS)}"
        )
    from monai.networks import nets

    ref = getattr(nets, kind)(**kwargs)
    ref.load_state_dict(state_dict, strict=True)
    return from_monai(ref, size)
