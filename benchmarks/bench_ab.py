"""Paired, interleaved A/B timing of the backbone rows in one process.

A is the current runtime. B is either ``legacy`` (the same model with the forward paths this
runtime replaced, `legacy.use_legacy`: before/after) or ``naive`` (the legacy paths with
every attention computed as explicit ``softmax(q kᵀ) v`` with materialised matrices, no
SDPA: the straightforward implementation of the same math). Both are built from the same
spec and seed, so they hold the same weights; their outputs are compared first.

The runs alternate A, B, A, B, ... (the order flips every pair, so neither side always runs
second); each pair gives a ratio B/A and the table shows the median time of each side and
the median of the per-pair ratios (> 1: A is faster). One thread (``torch.set_num_threads``),
the load average before and after, and the torch version are printed: on a shared machine
only the ratios mean anything. Memory, A/B: the peak allocated during one training step
(gradients included, `blockspec.bench.peak_bytes`) and the bytes autograd saves for the
backward of one training forward (the activation memory of a training step). With
``--checkpoint`` A is built with ``cell { checkpoint = true }`` (activation checkpointing of
every block) and B is unchanged.

    PYTHONPATH=src .venv/bin/python benchmarks/bench_ab.py --against naive [--rows ...]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).parent))

from ab import interleaved, ratio_text  # noqa: E402
from legacy import EXPERIMENTS, PARTS, use_legacy  # noqa: E402
from specs import EXTRA, ROWS  # noqa: E402

import blockspec as bs  # noqa: E402
from blockspec.bench import load_average, peak_bytes, saved_bytes  # noqa: E402

_SDPA = F.scaled_dot_product_attention


def naive_attention(q, k, v, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None):  # noqa: ANN001, ANN201
    """``softmax(q kᵀ · scale + mask) v`` with the logits and weights materialised."""
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else scale
    logits = torch.matmul(q, k.transpose(-2, -1)) * scale
    if is_causal:
        t = logits.shape[-1]
        causal = torch.ones(t, t, dtype=torch.bool, device=q.device).tril()
        logits = logits.masked_fill(~causal, float("-inf"))
    if attn_mask is not None:
        logits = logits + attn_mask
    weights = torch.softmax(logits, dim=-1)
    if dropout_p > 0.0:
        weights = F.dropout(weights, dropout_p)
    return torch.matmul(weights, v)


@contextmanager
def naive_sdpa():
    """Within the block every SDPA call is `naive_attention`."""
    F.scaled_dot_product_attention = naive_attention
    try:
        yield
    finally:
        F.scaled_dot_product_attention = _SDPA


def _outputs(y: object) -> list[torch.Tensor]:
    return list(y) if isinstance(y, list | tuple) else [y]  # type: ignore[list-item]


def _loss(y: object) -> torch.Tensor:
    return sum(o.sum() for o in _outputs(y))  # type: ignore[return-value]


def with_checkpoint(spec: str) -> str:
    """The spec with ``checkpoint = true`` first in its ``cell { ... }`` defaults."""
    if "cell {" not in spec:
        raise SystemExit("--checkpoint needs a row with a cell { ... } block")
    return spec.replace("cell {", "cell { checkpoint = true,", 1)


def run_row(
    name: str,
    against: str,
    pairs: int,
    train: bool,
    parts: tuple[str, ...] = PARTS,
    checkpoint: bool = False,
) -> dict:
    """One row: the outputs' difference, per-pair times and ratios, peak and saved bytes."""
    spec, shape = {**ROWS, **EXTRA}[name]
    a = bs.compile(with_checkpoint(spec) if checkpoint else spec, seed=0)
    b = use_legacy(bs.compile(spec, seed=0), parts if against == "legacy" else PARTS)
    x = torch.randn(shape, generator=torch.Generator().manual_seed(0))
    wrap = naive_sdpa if against == "naive" else _null

    def fwd(m: torch.nn.Module, ctx) -> Callable[[], object]:  # noqa: ANN001
        def go() -> object:
            with ctx(), torch.no_grad():
                return m.eval()(x)

        return go

    def step(m: torch.nn.Module, ctx) -> Callable[[], object]:  # noqa: ANN001
        def go() -> None:
            with ctx():
                m.train()
                _loss(m(x)).backward()
                m.zero_grad(set_to_none=True)

        return go

    sides = {"A": (a, _null), "B": (b, wrap)}
    ya, yb = fwd(a, _null)(), fwd(b, wrap)()
    diff = max(float((p - q).abs().max()) for p, q in zip(_outputs(ya), _outputs(yb), strict=True))
    kinds = {"forward": fwd}
    if train:
        kinds["forward_backward"] = step
    result: dict = {"row": name, "input": list(shape), "max_abs_diff": diff}
    for kind, make in kinds.items():
        fns = {s: make(m, c) for s, (m, c) in sides.items()}
        result[kind] = interleaved(fns["A"], fns["B"], pairs)
    if train:
        mem, peak = {}, {}
        for s, (m, c) in sides.items():
            m.train()
            with c():
                mem[s] = saved_bytes(lambda m=m: _loss(m(x)))
                m.zero_grad(set_to_none=True)
                peak[s] = peak_bytes(step(m, _null))
        result["saved_bytes"] = mem
        result["saved_ratio_A_over_B"] = mem["A"] / mem["B"]
        result["peak_bytes"] = peak
        result["peak_ratio_A_over_B"] = peak["A"] / peak["B"]
    return result


@contextmanager
def _null():
    yield


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", nargs="*", default=list(ROWS), choices=[*ROWS, *EXTRA])
    parser.add_argument("--against", choices=["legacy", "naive"], default="naive")
    parser.add_argument("--pairs", type=int, default=5)
    parser.add_argument("--parts", nargs="*", default=list(PARTS), choices=PARTS + EXPERIMENTS,
                        help="with --against legacy: which replaced paths B uses")  # fmt: skip
    parser.add_argument("--no-train", action="store_true", help="forward only")
    parser.add_argument("--checkpoint", action="store_true",
                        help="A with cell { checkpoint = true }")  # fmt: skip
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    args = parser.parse_args()
    torch.set_num_threads(1)
    head = {"torch": torch.__version__, "threads": 1, "against": args.against, "parts": args.parts,
            "checkpoint": args.checkpoint, "load_before": load_average()}  # fmt: skip
    what = args.against + (f" {args.parts}" if args.against == "legacy" else "")
    now = "now" + (" with checkpoint = true" if args.checkpoint else "")
    print(f"torch {head['torch']}, 1 thread, A = {now}, B = {what}; load {head['load_before']}")
    results = []
    for name in args.rows:
        r = run_row(
            name, args.against, args.pairs, not args.no_train, tuple(args.parts), args.checkpoint
        )
        r["load_after"] = load_average()
        results.append(r)
        line = f"{name:7s} max|A-B| {r['max_abs_diff']:.1e}" + ratio_text(r)
        if "saved_ratio_A_over_B" in r:
            line += f" | peak A/B {r['peak_ratio_A_over_B']:.2f}"
            line += f" | saved A/B {r['saved_ratio_A_over_B']:.2f}"
        print(line + f" | load {r['load_after'][0]:.2f}", flush=True)
    head["load_after"] = load_average()
    if args.json:
        Path(args.json).write_text(json.dumps({**head, "rows": results}, indent=2))


if __name__ == "__main__":
    main()
