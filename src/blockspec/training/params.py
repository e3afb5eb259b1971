"""Optimizer parameter groups: weight decay on weights, none on norms, biases and the like.

Decaying a norm's scale, a bias, a position table or embedding, a class token or a
cosine-attention temperature pulls it towards zero for no benefit (a zero temperature flattens
attention, a zero norm scale switches a branch off), so these go in a group with
``weight_decay = 0``; so do the learnt slopes of PReLU (the `prelu` activation, the default),
as its authors advise.
"""

from __future__ import annotations

from torch import nn
from torch.nn.modules.batchnorm import _NormBase

__all__ = ["NO_DECAY_NAMES", "NO_DECAY_TYPES", "is_no_decay", "param_groups"]

#: Parameter names (the last part of a dotted name) that never decay: biases, the relative
#: position bias tables of windowed attention (``pos_table``), the log-temperatures of
#: cosine attention (``tau``), see `blockspec.runtime.attention`, and the stem's learned
#: position embedding and class token (``pos_embed``, ``class_token``; as timm's ViT has it).
NO_DECAY_NAMES = frozenset({"bias", "pos_table", "tau", "pos_embed", "class_token"})

#: Module types none of whose parameters decay: every torch norm (blockspec's norms subclass
#: these) and PReLU.
NO_DECAY_TYPES: tuple[type[nn.Module], ...] = (
    _NormBase,  # BatchNorm*, InstanceNorm*, SyncBatchNorm
    nn.LayerNorm,
    nn.GroupNorm,
    nn.LocalResponseNorm,
    *((nn.RMSNorm,) if hasattr(nn, "RMSNorm") else ()),
    nn.PReLU,
)


def is_no_decay(module: nn.Module, name: str) -> bool:
    """Whether parameter `name` (its own name, no dots) of `module` belongs to the no-decay
    group: every parameter of a norm or a PReLU, and any parameter named in
    `NO_DECAY_NAMES`."""
    return isinstance(module, NO_DECAY_TYPES) or name in NO_DECAY_NAMES


def param_groups(
    model: nn.Module, weight_decay: float = 0.05, *, skip_frozen: bool = True
) -> list[dict]:
    """Two optimizer groups for `model`: ``[decay, no_decay]``.

    Each group is a dict with ``params``, ``param_names`` (dotted names, as
    `model.named_parameters` gives them) and ``weight_decay`` (`weight_decay`, then 0.0), ready
    for ``torch.optim.AdamW(param_groups(model), lr=...)``. Every trainable parameter is in
    exactly one group (a shared parameter once, under its first name); with `skip_frozen`,
    parameters with ``requires_grad = False`` are left out. An empty group is dropped. Works on
    a compiled model and on one wrapped by DDP or `fsdp_wrap` (names then carry the wrapper's
    prefix).
    """
    if weight_decay < 0:
        raise ValueError(f"weight_decay must be >= 0, got {weight_decay}")
    decay: dict[str, nn.Parameter] = {}
    keep: dict[str, nn.Parameter] = {}
    seen: set[int] = set()
    for mod_name, module in model.named_modules():
        for name, p in module.named_parameters(recurse=False):
            if id(p) in seen or (skip_frozen and not p.requires_grad):
                continue
            seen.add(id(p))
            full = f"{mod_name}.{name}" if mod_name else name
            (keep if is_no_decay(module, name) else decay)[full] = p
    groups = [
        {"params": list(decay.values()), "param_names": list(decay), "weight_decay": weight_decay},
        {"params": list(keep.values()), "param_names": list(keep), "weight_decay": 0.0},
    ]
    return [g for g in groups if g["params"]]
