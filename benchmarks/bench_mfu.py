"""Forward model-FLOP utilisation of the backbone rows and the published models (run by hand):
`blockspec.bench.bench` on each, the achieved FLOP/s of the eval forward (the summary's
FLOPs over its time) as a fraction of a square fp32 GEMM timed just before each forward
(`blockspec.bench.interleaved_mfu`: the median over the pairs). The load average is printed
before and after each row; the GEMM rate itself moves, so compare fractions, not rates.

    PYTHONPATH=src .venv/bin/python benchmarks/bench_mfu.py [--threads 2] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))

from specs import ROWS  # noqa: E402

from blockspec.bench import bench, load_average  # noqa: E402

#: name -> spec (text or packaged name); the input is each spec's own static size
SPECS: dict[str, str] = {
    "vit_b16": "@vit_b16",
    "swin_t": "@swin_t",
    "hrnet3": "@hrnet3",
    **{name: text for name, (text, _) in ROWS.items()},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", nargs="*", default=list(SPECS), choices=list(SPECS))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    out: dict = {"torch": torch.__version__, "threads": args.threads, "rows": []}
    print(f"torch {out['torch']}, {args.threads} threads; load {load_average()}")
    for name in args.rows:
        r = bench(SPECS[name], repeats=args.repeats, device="cpu")
        r["row"] = name
        out["rows"].append(r)
        print(
            f"{name:8s} {r['input_shape']} forward {r['forward_s'] * 1e3:.1f} ms"
            f" | MFU {100 * r['forward_mfu']:.0f} % of {r['gemm_flops_per_s'] / 1e9:.0f} GFLOP/s"
            f" | load {r['load_average_before'][0]:.2f} -> {r['load_average_after'][0]:.2f}",
            flush=True,
        )
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
