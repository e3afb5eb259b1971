"""ATen operators per forward (eval, no autograd) of the examples and the benchmark rows, for
the current runtime and for its legacy paths (`legacy.use_legacy`); counts do not depend on
the machine's load. Also checks that both give the same outputs.

    PYTHONPATH=src .venv/bin/python benchmarks/bench_ops.py [--rows swin_t swin3d ...]
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

import torch
from torch.utils._python_dispatch import TorchDispatchMode

sys.path.insert(0, str(Path(__file__).parent))

from legacy import use_legacy  # noqa: E402
from specs import EXTRA, ROWS  # noqa: E402

import blockspec as bs  # noqa: E402


class _Ops(TorchDispatchMode):
    def __init__(self) -> None:
        super().__init__()
        self.ops: Counter[str] = Counter()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # noqa: ANN001
        self.ops[str(func.overloadpacket)] += 1
        return func(*args, **(kwargs or {}))


def rows() -> dict[str, tuple[str, tuple[int, ...]]]:
    """Every row: the benchmark specs and the two replicas."""
    return {**ROWS, **EXTRA}


def count(model: torch.nn.Module, x: torch.Tensor) -> tuple[Counter[str], torch.Tensor]:
    """Operators of one forward, and its output."""
    mode = _Ops()
    with torch.no_grad(), mode:
        y = model(x)
    return mode.ops, y


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", nargs="*", default=list(rows()))
    parser.add_argument("--top", type=int, default=0, help="also list the N commonest ops")
    args = parser.parse_args()
    torch.set_num_threads(1)
    table = rows()
    print(f"torch {torch.__version__}; ops per forward, eval, batch 1")
    for name in args.rows:
        spec, shape = table[name]
        new = bs.compile(spec, seed=0).eval()
        old = use_legacy(bs.compile(spec, seed=0).eval())
        x = torch.randn(shape, generator=torch.Generator().manual_seed(0))
        ops_new, y_new = count(new, x)
        ops_old, y_old = count(old, x)
        ys_new = y_new if isinstance(y_new, list) else [y_new]
        ys_old = y_old if isinstance(y_old, list) else [y_old]
        diff = max(float((a - b).abs().max()) for a, b in zip(ys_new, ys_old, strict=True))
        print(f"{name:8s} legacy {sum(ops_old.values()):6d}  now {sum(ops_new.values()):6d}"
              f"  max |diff| {diff:.2e}")  # fmt: skip
        if args.top:
            for op, n in (ops_old - ops_new).most_common(args.top):
                print(f"    fewer {op}: {n}")
            for op, n in (ops_new - ops_old).most_common(args.top):
                print(f"    more  {op}: {n}")


if __name__ == "__main__":
    main()
