"""`build_network`: a whole compiled network (input check, stem, backbone, head) from numbers.

`uninitialised_parameters` builds a network without the work of initialising its parameters,
for loading a checkpoint that overwrites every one of them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import torch
from torch.overrides import TorchFunctionMode

from blockspec.runtime.backbones import Backbone, HRNet, SOANet, UNet
from blockspec.runtime.config import HRNetConfig, NetworkConfig, SOANetConfig, UNetConfig

__all__ = ["build_network", "uninitialised_parameters"]

_BACKBONES: dict[type, type[Backbone]] = {
    UNetConfig: UNet,
    HRNetConfig: HRNet,
    SOANetConfig: SOANet,
}


def build_network(cfg: NetworkConfig, seed: int | None = None) -> Backbone:
    """Build the network of ``cfg``; with ``seed``, its weights depend on the seed alone.

    The result is the backbone module itself, holding ``stem`` and ``head`` too, so state-dict
    keys read ``stem.conv.weight``, ``level0.enc...``, ``head.conv.weight``. Its forward checks
    the input (raising `blockspec.errors.ShapeError`), then runs stem -> backbone -> head.
    """
    cls = _BACKBONES.get(type(cfg.backbone))
    if cls is None:
        raise TypeError(f"unknown backbone config {type(cfg.backbone).__name__}")
    if seed is None:
        return cls(cfg.backbone, input=cfg.input, stem=cfg.stem, head=cfg.head, heads=cfg.heads,
                   out_indices=cfg.out_indices)  # fmt: skip
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return cls(cfg.backbone, input=cfg.input, stem=cfg.stem, head=cfg.head, heads=cfg.heads,
                   out_indices=cfg.out_indices)  # fmt: skip


# ops that only write values into a tensor: `torch.nn.init`'s functions and the in-place random,
# fill and arithmetic methods they are made of (never ones that change shape, dtype,
# requires_grad or storage, so skipping one leaves the parameter exactly as created)
_VALUE_WRITES = frozenset(
    """uniform_ normal_ trunc_normal_ constant_ ones_ zeros_ eye_ dirac_ xavier_uniform_
    xavier_normal_ kaiming_uniform_ kaiming_normal_ orthogonal_ sparse_ fill_ zero_ copy_
    random_ bernoulli_ exponential_ cauchy_ log_normal_ geometric_ erfinv_ mul_ add_ sub_ div_
    clamp_ clamp_min_ clamp_max_""".split()
)


class _SkipParameterInit(TorchFunctionMode):
    """Turns value writes into a `torch.nn.Parameter` into no-ops (see `_VALUE_WRITES`)."""

    def __torch_function__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None):
        kwargs = kwargs or {}
        if getattr(func, "__name__", None) in _VALUE_WRITES:
            target = args[0] if args else kwargs.get("tensor", kwargs.get("self"))
            if isinstance(target, torch.nn.Parameter):
                return target
        return func(*args, **kwargs)


@contextlib.contextmanager
def uninitialised_parameters() -> Iterator[None]:
    """Within: modules get their parameters allocated but not initialised (no random numbers
    drawn, no values written); buffers, shapes, dtypes and ``requires_grad`` are as usual.

    For loading weights that replace every parameter (``load_state_dict(..., assign=True)``),
    where initialising ~86M values first (ViT-B/16) costs more than reading them. Unlike
    building on the meta device, buffers that are not in the state dict (index tables) keep
    their computed values. Thread-local, like every torch function mode.
    """
    with _SkipParameterInit():
        yield
