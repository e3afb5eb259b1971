"""`build_network`: a whole compiled network (input check, stem, backbone, head) from numbers."""

from __future__ import annotations

import torch

from blockspec.runtime.backbones import Backbone, HRNet, SOANet, UNet
from blockspec.runtime.config import HRNetConfig, NetworkConfig, SOANetConfig, UNetConfig

__all__ = ["build_network"]

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
        return cls(cfg.backbone, input=cfg.input, stem=cfg.stem, head=cfg.head)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return cls(cfg.backbone, input=cfg.input, stem=cfg.stem, head=cfg.head)
