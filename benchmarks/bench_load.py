"""Load and compile times (run by hand, not a test): `bs.load` of a saved ViT-B/16 and Swin-T
against building the model with `bs.compile` (both from the packaged specs). Medians of 3 runs,
with the load average. Parse + validate against the cell count is `bench_parser.py cells`.

    PYTHONPATH=src .venv/bin/python benchmarks/bench_load.py [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import tempfile
from collections.abc import Callable
from pathlib import Path

import torch

import blockspec as bs
from blockspec.bench import load_average, median_seconds


def median_s(fn: Callable[[], object]) -> float:
    return median_seconds(fn, 3, torch.device("cpu"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    args = parser.parse_args()
    torch.set_num_threads(1)
    out: dict = {"torch": torch.__version__, "threads": 1, "load_before": load_average()}
    print(f"torch {out['torch']}, 1 thread; load {out['load_before']}")
    with tempfile.TemporaryDirectory() as tmp:
        for name in ("vit_b16", "swin_t"):
            spec = f"@{name}"
            path = Path(tmp) / f"{name}.pt"
            bs.save(bs.compile(spec, seed=0), path)
            compile_s = median_s(lambda spec=spec: bs.compile(spec, seed=0))
            load_s = median_s(lambda path=path: bs.load(path))
            out[name] = {"compile_s": compile_s, "load_s": load_s}
            print(f"{name:8s} bs.compile {compile_s:.2f} s | bs.load {load_s:.2f} s", flush=True)
    out["load_after"] = load_average()
    print(f"load {out['load_after']}")
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
