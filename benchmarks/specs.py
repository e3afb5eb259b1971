"""The benchmark rows as spec texts with their input shapes (B, C, D, H, W)."""

from __future__ import annotations

from pathlib import Path

_CELL_2D = "cell { window = [8, 8, 1], patch = [2, 2, 1], heads = 8, norm = instance2d }"

UNET = f"""
input {{ channels = 1, D = 8, H = 64, W = 64 }}
{_CELL_2D}
backbone unet {{ channels = 32, levels = 3, blocks = ["T1L1G1", "T1L1G1", "T1L1G1"] }}
head conv {{ out_channels = 1 }}
"""

HRNET = f"""
input {{ channels = 1, D = 8, H = 64, W = 64 }}
{_CELL_2D}
backbone hrnet {{ channels = 32, levels = 3, blocks = ["T1L1G1", "T1L1G1", "T1L1G1"] }}
head conv {{ out_channels = 1 }}
"""

SOANET = f"""
input {{ channels = 1, D = 8, H = 64, W = 64 }}
{_CELL_2D}
backbone soanet {{ channels = 32, stages = ["T1L1G1", "T1L1G1"] }}
head conv {{ out_channels = 1 }}
"""

SWIN3D = """
input { channels = 4, D = 8, H = 32, W = 32 }
stem { patch = [2, 2, 2], channels = 32 }
cell { window = [4, 4, 2], heads = 4, norm = instance3d, rel_pos_bias = true }
backbone soanet { channels = 32, stages = ["S3Sh", "S3Sh"] }
head conv { out_channels = 4 }
"""

#: name -> (spec text, input shape [B, C, D, H, W])
ROWS: dict[str, tuple[str, tuple[int, int, int, int, int]]] = {
    "unet": (UNET, (1, 1, 8, 64, 64)),
    "hrnet": (HRNET, (1, 1, 8, 64, 64)),
    "soanet": (SOANET, (1, 1, 8, 64, 64)),
    "swin3d": (SWIN3D, (1, 4, 8, 32, 32)),
}

_EXAMPLES = Path(__file__).resolve().parents[1] / "examples"

#: the replicas, for before/after runs (their timm rows need timm: not measured here)
EXTRA: dict[str, tuple[str, tuple[int, int, int, int, int]]] = {
    "swin_t": ((_EXAMPLES / "swin_t.bspec").read_text(), (1, 3, 1, 224, 224)),
    "vit_b16": ((_EXAMPLES / "vit_b16.bspec").read_text(), (1, 3, 1, 224, 224)),
}
