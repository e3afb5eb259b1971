"""Forward time and parameter count of one cell per code (run by hand, not a test).

Setting: C = 32 in and out, input [1, 32, 8, 64, 64] (B, C, D, H, W), the defaults of
SEMANTICS.md (patch [2, 2, 1], heads 16, conv attention, conv mixer, mixer_ratio 4,
instance2d, prelu, cosine, normalize_qk, rel_pos_bias, out_proj), eval mode, no autograd.
Window: [16, 16, 1] for the 2D families; [16, 16, 2] (H, W, D) for the 3D families so that
the depth D = 8 is a multiple of the window depth (the default wd = 1 would make every 3D
window a single frame). Prints the median of 5 timed forwards after one warm-up.

    .venv/bin/python benchmarks/bench_cells.py [--repeats 5] [--threads N] [--codes L1 G1 ...]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from blockspec.runtime.cell import Cell
from blockspec.runtime.config import FAMILIES_3D, CellConfig

CODES = {"L1": "L", "L0": "L", "G1": "G", "G0": "G", "T1": "T", "T0": "T", "L3": "L3",
         "G3": "G3", "V2": "V2", "V3": "V3", "S3": "S3", "Sh": "Sh", "C2": "C2",
         "C3": "C3"}  # fmt: skip
SIZE = (8, 64, 64)  # (D, H, W)
CHANNELS = 32


def cell_config(code: str) -> CellConfig:
    """The benchmark's cell: defaults, C = 32, window per the module docstring."""
    family = CODES[code]
    window = (16, 16, 2) if family in FAMILIES_3D else (16, 16, 1)
    return CellConfig(
        code=code,
        family=family,
        has_mixer=not code.endswith("0"),
        c_in=CHANNELS,
        c_out=CHANNELS,
        size=SIZE,
        window=window,
    )


def time_forward(cell: torch.nn.Module, x: torch.Tensor, repeats: int) -> float:
    """Median seconds of ``repeats`` forwards, after one warm-up."""
    with torch.no_grad():
        cell(x)
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            cell(x)
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--codes", nargs="*", default=list(CODES))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    x = torch.randn(1, CHANNELS, *SIZE)
    print(
        f"torch {torch.__version__}, {args.threads} threads, input {list(x.shape)}, "
        f"median of {args.repeats} forwards (eval, no_grad)"
    )
    print("window: [16, 16, 1] (2D families), [16, 16, 2] (3D families: L3 G3 V3 S3 Sh C3)")
    print(f"| {'code':<4} | {'window':<12} | {'parameters':>10} | {'forward ms':>10} |")
    print(f"|{'-' * 6}|{'-' * 14}|{'-' * 12}|{'-' * 12}|")
    for code in args.codes:
        cfg = cell_config(code)
        cell = Cell(cfg).eval()
        params = sum(p.numel() for p in cell.parameters())
        ms = 1000 * time_forward(cell, x, args.repeats)
        print(
            f"| {code:<4} | {str(list(cfg.window)):<12} | {params:>10,} | {ms:>10.1f} |", flush=True
        )


if __name__ == "__main__":
    main()
