"""Typed IR -> runtime modules. The only part of the compiler that imports the runtime's modules.

Lowering walks the IR once, turning each node into the plain-number configuration the runtime
builds from (`blockspec.runtime.config`), then builds the network with a seed.
"""

from __future__ import annotations

import torch

from ..runtime.config import (
    HRNetConfig,
    InputConfig,
    NetworkConfig,
    SOANetConfig,
    UNetConfig,
)
from ..runtime.network import build_network, uninitialised_parameters
from . import ir

__all__ = ["network_config", "lower", "lower_block", "uninitialised_parameters"]


def _backbone_config(bb: ir.UNet | ir.HRNet | ir.SOANet) -> UNetConfig | HRNetConfig | SOANetConfig:
    if isinstance(bb, ir.UNet):
        return UNetConfig(
            enc=tuple(lv.enc.config for lv in bb.levels),
            down=tuple(lv.down.config for lv in bb.levels),
            bridge=bb.bridge.config,
            up=tuple(lv.up.config for lv in bb.levels),
            gate=all(lv.gate is not None for lv in bb.levels),
            dec=tuple(lv.dec.config for lv in bb.levels),
            channels=bb.channels,
            deep_supervision=bb.deep_supervision,
        )
    if isinstance(bb, ir.HRNet):
        return HRNetConfig(
            levels=len(bb.channels),
            channels=bb.channels,
            blocks=tuple((key, b.config) for key, b in bb.blocks),
            resamplers=tuple((key, r.config) for key, r in bb.resamplers),
            fusion=tuple((key, r.config) for key, r in bb.fusion),
            out=tuple(b.config for b in bb.out),
            upsample=bb.upsample,
            depth=bb.depth,
        )
    return SOANetConfig(
        stages=tuple(b.config for b in bb.stages),
        down=tuple(None if d is None else d.config for d in bb.down),
        final_down=None if bb.final_down is None else bb.final_down.config,
        outputs=bb.outputs,
        output_norm=bb.output_norm,
    )


def network_config(net: ir.Network) -> NetworkConfig:
    """The runtime configuration of a validated network."""
    inp = net.input
    return NetworkConfig(
        input=InputConfig(inp.channels, ir.runtime_size(inp.size), inp.step, inp.minimum),
        backbone=_backbone_config(net.backbone),
        stem=None if net.stem is None else net.stem.config,
        head=None if net.head is None else net.head.config,
        heads=tuple(h.config for h in net.heads),
        out_indices=net.out_indices,
    )


def lower(net: ir.Network, seed: int | None = 0) -> torch.nn.Module:
    """Build the module of a validated network; the same seed gives bit-identical weights."""
    return build_network(network_config(net), seed=seed)


def lower_block(block: ir.Block, seed: int | None = 0) -> torch.nn.Module:
    """Build the module of one validated block (`bs.block`); the seed fixes its weights."""
    from ..runtime.block import Block

    if seed is None:
        return Block(block.config)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return Block(block.config)
