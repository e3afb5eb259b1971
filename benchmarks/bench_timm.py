"""Paired, interleaved A/B timing of blockspec's Swin-T and ViT-B/16 against timm's models.

Runs in the timm venv (``make .venv-timm/bin/timm-ready``; timm needs torchvision, which does
not load beside the CPU torch 2.13.0 build):

    PYTHONPATH=src .venv-timm/bin/python benchmarks/bench_timm.py [--threads 2] [--batch 1 8]

A is blockspec's model converted from the timm model by `blockspec.interop.from_timm` (so both
hold the same weights, and their logits are compared first), B is timm's model itself. Both
run in eval mode for the forward and in train mode (dropout rates 0) for forward+backward.
Runs alternate A, B, B, A, ... and the table gives each side's median and the median of the
per-pair ratios B/A (> 1: blockspec is faster). The thread count, torch and timm versions and
the load average before and after are printed; only ratios from one run mean anything.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path

import torch
from ab import interleaved, ratio_text

from blockspec.bench import load_average

MODELS = {"swin_t": "swin_tiny_patch4_window7_224", "vit_b16": "vit_base_patch16_224"}


def run_row(name: str, batch: int, pairs: int, train: bool) -> dict:
    import timm

    from blockspec.interop import from_timm

    ref = timm.create_model(MODELS[name], pretrained=False)
    ours = from_timm(ref)
    x = torch.randn(batch, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        diff = float((ours.eval()(x[:, :, None]) - ref.eval()(x)).abs().max())

    def fwd(m: torch.nn.Module, inp: torch.Tensor) -> Callable[[], object]:
        def go() -> object:
            with torch.no_grad():
                return m.eval()(inp)

        return go

    def step(m: torch.nn.Module, inp: torch.Tensor) -> Callable[[], object]:
        def go() -> None:
            m.train()
            m(inp).sum().backward()
            m.zero_grad(set_to_none=True)

        return go

    row = {"row": name, "timm": MODELS[name], "batch": batch, "max_abs_diff": diff}
    row["forward"] = interleaved(fwd(ours, x[:, :, None]), fwd(ref, x), pairs)
    if train:
        row["forward_backward"] = interleaved(step(ours, x[:, :, None]), step(ref, x), pairs)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", nargs="*", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--batch", nargs="*", type=int, default=[1, 8])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--pairs", type=int, default=5)
    parser.add_argument("--no-train", action="store_true", help="forward only")
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    args = parser.parse_args()
    import timm

    torch.set_num_threads(args.threads)
    head = {"torch": torch.__version__, "timm": timm.__version__, "threads": args.threads,
            "load_before": load_average()}  # fmt: skip
    print(f"torch {head['torch']}, timm {head['timm']}, {args.threads} threads, "
          f"A = blockspec, B = timm; load {head['load_before']}")  # fmt: skip
    rows = []
    for name in args.rows:
        for batch in args.batch:
            r = run_row(name, batch, args.pairs, not args.no_train)
            r["load_after"] = load_average()
            rows.append(r)
            line = f"{name:7s} batch {batch} max|A-B| {r['max_abs_diff']:.1e}" + ratio_text(r)
            print(line + f" | load {r['load_after'][0]:.2f}", flush=True)
    head["load_after"] = load_average()
    if args.json:
        Path(args.json).write_text(json.dumps({**head, "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
