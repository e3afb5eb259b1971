"""Tiny specs of each backbone kind, shared by the checkpoint and export tests."""

from __future__ import annotations

import torch

UNET = """
input { channels = 1, D = 2, H = 16, W = 16 }
cell { window = [4, 4, 1], patch = [2, 2, 1], heads = 2, norm = instance2d }
backbone unet {
  channels = 8, levels = 2, blocks = ["T1L1G1", "L1G1"], bridge = "L1C2", gate = true
}
head conv { out_channels = 2 }
"""

HRNET = """
input { channels = 1, D = 1, H = 16, W = 16 }
cell { window = [4, 4, 1], patch = [2, 2, 1], heads = 2, norm = batch2d }
backbone hrnet { channels = 8, levels = 2, blocks = ["L1G1", "C2"], fusion = "L1" }
"""

SOANET = """
input { channels = 4, D = 4, H = 16, W = 16 }
stem { patch = [2, 2, 1], channels = 8, norm = channel_layer }
cell { window = [4, 4, 2], heads = 2, norm = instance3d, attention = lin, mixer = lin }
backbone soanet {
  channels = 8, stages = ["S3Sh", "V3L3G3"], downsample = merge
  stage 1 { window = [2, 2, 2] }
}
head classify { classes = 3 }
"""

TINY = {"unet": UNET, "hrnet": HRNET, "soanet": SOANET}


def example_input(model: torch.nn.Module, batch: int = 2, dynamic: int = 16) -> torch.Tensor:
    """A fixed random input of the model's static size (`dynamic` for each `?` size)."""
    inp = model.ir.input
    size = tuple(s if isinstance(s, int) else dynamic for s in inp.size)
    gen = torch.Generator().manual_seed(1234)
    return torch.randn(batch, inp.channels, *size, generator=gen)


def flat(out: torch.Tensor | list[torch.Tensor]) -> list[torch.Tensor]:
    """A model's output as a list of tensors (U-Net and heads give one, the others a list)."""
    return list(out) if isinstance(out, list | tuple) else [out]
