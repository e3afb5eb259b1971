"""Tiny specs for the training tests (a few thousand parameters, CPU-quick)."""

from __future__ import annotations

# a 2-level U-Net with conv, local and global attention, cosine attention and position tables
# (the defaults), no stochastic depth: the denoising test and the DDP comparison
DENOISE = """
input { channels = 1, D = 1, H = 32, W = 32 }
cell { window = [4, 4, 1], patch = [2, 2, 1], heads = 2, norm = instance2d, dropout = 0.0 }
backbone unet { channels = 8, levels = 2, blocks = ["C2", "L1"], bridge = "G1" }
head conv { out_channels = 1 }
"""

# smaller, with the default stochastic depth (dropout = 0.1) and batch norms with running
# statistics: the resume test must replay both exactly
RESUME = """
input { channels = 1, D = 2, H = 16, W = 16 }
cell { window = [4, 4, 1], patch = [2, 2, 1], heads = 2, norm = batch2d }
backbone unet { channels = 8, levels = 2, blocks = ["L1", "C2"], bridge = "G1" }
head conv { out_channels = 1 }
"""

# no batch norm (a DDP process normalises its own half of the batch) and no drop-path (its
# masks are drawn per process): DDP on 2 x B must then equal one process on 2B. Not instance
# norms either: the bias of the conv before one (in C2) has a zero gradient, which AdamW turns
# into steps of float noise that two summation orders do not share. Activation checkpointing
# on every block: DDP and FSDP combine with it.
DDP = """
input { channels = 1, D = 2, H = 16, W = 16 }
cell {
  window = [4, 4, 1], patch = [2, 2, 1], heads = 2, norm = channel_layer, dropout = 0.0,
  checkpoint = true
  cosine = false, normalize_qk = false  # q/k biases get real gradients (AdamW rescales tiny ones)
}
backbone unet { channels = 8, levels = 2, blocks = ["L1", "C2"], bridge = "G1", gate = true }
head conv { out_channels = 1 }
"""

FSDP = DDP

SEGMENT = DENOISE.replace("out_channels = 1", "out_channels = 2")

CLASSIFY = """
input { channels = 1, D = 1, H = 16, W = 16 }
stem { patch = [2, 2, 1], channels = 8, norm = channel_layer }
cell { window = [4, 4, 1], heads = 2, norm = channel_layer, dropout = 0.0 }
backbone soanet { channels = [8, 16], stages = ["C2", "C2G1"], downsample = merge }
head classify { classes = 4 }
"""

HRNET_SEGMENT = """
input { channels = 1, D = 1, H = 16, W = 16 }
cell { window = [4, 4, 1], patch = [2, 2, 1], heads = 2, norm = batch2d }
backbone hrnet { channels = 8, levels = 2, blocks = ["L1G1", "C2"], fusion = "L1" }
head conv { out_channels = 3 }
"""
