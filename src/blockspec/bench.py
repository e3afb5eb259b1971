"""`blockspec bench SPEC`: time a compiled model and set the summary's estimates beside it.

It builds the model with `blockspec.compile`, warms it up, and reports the median forward
(eval, no autograd) and, with ``--train``, the median forward+backward (train mode, loss =
sum of the outputs); its memory: the peak allocated during one training step above what was
allocated before it (CUDA's allocator statistics; on CPU the profiler's allocation events), and
the bytes autograd saves for the backward (the activation memory of training); the achieved
FLOP/s against a square GEMM timed beside each forward (model-FLOP utilisation, the median of
the per-call ratios: `interleaved_mfu`); the summary's
FLOPs and activation estimate; the load average before and after. When the machine is busy
(load per core above `BUSY_LOAD_PER_CORE`) it says that absolute figures are not comparable:
other work stretches them, and only ratios measured side by side in one run mean anything.

The CLI entry points are `add_arguments` and `run`; the measurement helpers of
`blockspec._measure` (`count_ops`, `saved_bytes`, `peak_bytes`, `median_seconds`,
`gemm_flops_per_s`, `interleaved_mfu`, `load_average`) are re-exported for ``benchmarks/``.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from blockspec._measure import (
    BUSY_LOAD_PER_CORE,
    _cores,
    count_ops,
    gemm_flops_per_s,
    interleaved_mfu,
    load_average,
    machine_busy,
    median_seconds,
    peak_bytes,
    saved_bytes,
)
from blockspec.errors import SpecError, SpecValueError
from blockspec.sources import argument_source

# the helpers are re-exported as written here (a literal list, so linters see the re-export)
__all__ = [
    "BUSY_LOAD_PER_CORE",
    "add_arguments",
    "count_ops",
    "gemm_flops_per_s",
    "interleaved_mfu",
    "load_average",
    "machine_busy",
    "median_seconds",
    "peak_bytes",
    "run",
    "saved_bytes",
]

_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16}


# ---------------------------------------------------------------------------------- the run
def _loss(out: object) -> torch.Tensor:
    outs = list(out) if isinstance(out, list | tuple) else [out]
    return sum(o.float().sum() for o in outs)  # type: ignore[return-value]


def _input(model: torch.nn.Module, batch: int, dynamic: int, dtype, device) -> torch.Tensor:
    inp = model.ir.input
    size = tuple(s if isinstance(s, int) else dynamic for s in inp.size)
    gen = torch.Generator().manual_seed(0)
    return torch.randn(batch, inp.channels, *size, generator=gen).to(device=device, dtype=dtype)


def _estimate(model: torch.nn.Module) -> dict[str, int | None]:
    """The summary's per-sample FLOPs and activation bytes; None for a spec with a dynamic
    (``?``) input axis, whose summary is not for the size being timed."""
    from blockspec.api import summary

    totals = summary(model.ir).totals
    static = all(isinstance(n, int) for n in model.ir.input.size)
    flops = totals.flops if static and isinstance(totals.flops, int) else None
    memory = totals.memory if static and isinstance(totals.memory, int) else None
    return {"params": totals.params, "flops": flops, "memory": memory}


def _against(name: str, batch: int, dtype, device) -> tuple[torch.nn.Module, torch.Tensor]:
    kind, _, model_name = name.partition(":")
    if kind != "timm" or not model_name:
        raise SpecValueError(
            f"--against {name!r}: expected timm:NAME",
            hint="e.g. --against timm:swin_tiny_patch4_window7_224",
        )
    try:
        import timm  # type: ignore[import-not-found]
    except ImportError:
        raise SpecError(
            "--against timm:...: timm is not installed",
            hint="install timm (and torchvision) in this environment, or drop --against",
        ) from None
    other = timm.create_model(model_name, pretrained=False).to(device=device, dtype=dtype)
    x = torch.randn(batch, 3, 224, 224).to(device=device, dtype=dtype)
    return other, x


def measure(
    model: torch.nn.Module,
    x: torch.Tensor,
    *,
    train: bool,
    repeats: int,
    warmup: int,
) -> dict[str, Any]:
    """Median forward (and forward+backward with ``train``) seconds and memory of one model."""
    device = x.device
    result: dict[str, Any] = {}
    model.eval()
    with torch.no_grad():
        for _ in range(warmup):
            model(x)
        result["forward_s"] = median_seconds(lambda: model(x), repeats, device)
    if train:
        model.train()

        def step() -> None:
            _loss(model(x)).backward()

        for _ in range(warmup):
            step()
        result["forward_backward_s"] = median_seconds(step, repeats, device)
        model.zero_grad(set_to_none=True)  # the step allocates the gradients, as in training
        result["peak_memory_bytes"] = peak_bytes(step, device)
        result["saved_for_backward_bytes"] = saved_bytes(lambda: _loss(model(x)))
        model.zero_grad(set_to_none=True)
        model.eval()
    return result


def bench(
    spec: str | Path,
    *,
    batch: int = 1,
    dtype: str = "float32",
    train: bool = False,
    compile_model: bool = False,
    against: str | None = None,
    repeats: int = 5,
    warmup: int = 2,
    dynamic: int = 64,
    device: str | None = None,
) -> dict[str, Any]:
    """Everything `run` reports, as a dict (see the module docstring)."""
    from blockspec.api import compile as compile_spec

    if dtype not in _DTYPES:
        raise SpecValueError(f"--dtype {dtype!r}: expected one of {sorted(_DTYPES)}")
    if batch < 1 or repeats < 1 or warmup < 0:
        raise SpecValueError("--batch and --repeats must be >= 1 and --warmup >= 0")
    dev = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    tdtype = _DTYPES[dtype]
    other = _against(against, batch, tdtype, dev) if against is not None else None
    load_before = load_average()
    model = compile_spec(spec).to(device=dev, dtype=tdtype)
    estimate = _estimate(model)
    x = _input(model, batch, dynamic, tdtype, dev)
    runner: torch.nn.Module = torch.compile(model) if compile_model else model
    report: dict[str, Any] = {
        "spec": str(spec),
        "batch": batch,
        "input_shape": list(x.shape),
        "dtype": dtype,
        "device": str(dev),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "compiled": compile_model,
        "estimate": estimate,
    }
    report.update(measure(runner, x, train=train, repeats=repeats, warmup=warmup))
    if estimate["flops"] is None:
        report["gemm_flops_per_s"] = gemm_flops_per_s(tdtype, dev)
    else:
        flops = estimate["flops"] * batch
        report["forward_flops_per_s"] = flops / report["forward_s"]

        def forward() -> None:
            with torch.no_grad():
                runner(x)

        runner.eval()
        report["forward_mfu"], report["gemm_flops_per_s"] = interleaved_mfu(
            forward, flops, tdtype, dev, repeats
        )
        if "forward_backward_s" in report:  # backward ~ 2x the forward's FLOPs
            report["forward_backward_mfu_estimate"] = (
                3 * flops / report["forward_backward_s"] / report["gemm_flops_per_s"]
            )
    if other is not None:
        theirs = measure(other[0], other[1], train=train, repeats=repeats, warmup=warmup)
        report["against"] = {"name": against, **theirs}
        report["speedup_forward"] = theirs["forward_s"] / report["forward_s"]
        if train:
            report["speedup_forward_backward"] = (
                theirs["forward_backward_s"] / report["forward_backward_s"]
            )
    load_after = load_average()
    report["load_average_before"] = load_before
    report["load_average_after"] = load_after
    report["cores"] = _cores()
    report["comparable"] = not (machine_busy(load_before) or machine_busy(load_after))
    return report


def _fmt_bytes(n: int | None) -> str:
    return "-" if n is None else f"{n / 2**20:,.1f} MiB"


def format_report(r: dict[str, Any]) -> str:
    """The report as text lines."""
    est = r["estimate"]
    lines = [
        f"{r['spec']}: input {r['input_shape']} {r['dtype']} on {r['device']}, "
        f"{r['threads']} threads, torch {r['torch']}{', torch.compile' if r['compiled'] else ''}",
        f"parameters {est['params']:,}; summary estimate: "
        + (f"{est['flops'] * r['batch'] / 1e9:.3f} GFLOP forward" if est["flops"] else "FLOPs -")
        + f", activations {_fmt_bytes(est['memory'] and est['memory'] * r['batch'])}"
        + ("" if est["flops"] else " (dynamic input size: no estimate at this size)"),
        f"forward (eval, no grad): median {r['forward_s'] * 1e3:.2f} ms",
    ]
    if "forward_mfu" in r:
        lines.append(
            f"  achieved {r['forward_flops_per_s'] / 1e9:.2f} GFLOP/s = "
            f"{100 * r['forward_mfu']:.1f} % of a GEMM timed beside it "
            f"({r['gemm_flops_per_s'] / 1e9:.2f} GFLOP/s)"
        )
    if "forward_backward_s" in r:
        lines.append(f"forward+backward (train): median {r['forward_backward_s'] * 1e3:.2f} ms")
        if "peak_memory_bytes" in r:
            lines.append(f"  peak memory {_fmt_bytes(r['peak_memory_bytes'])}")
        lines.append(f"  saved for backward {_fmt_bytes(r['saved_for_backward_bytes'])}")
    if "against" in r:
        lines.append(f"against {r['against']['name']}: {r['speedup_forward']:.2f}x forward")
    load = r["load_average_before"]
    if load is not None:
        lines.append(f"load average {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f} "
                     f"on {r['cores']} cores (before the run)")  # fmt: skip
    if not r["comparable"]:
        lines.append(
            "NOTE: the machine is busy (load above "
            f"{BUSY_LOAD_PER_CORE} per core): these absolute times are not comparable with "
            "other runs; compare only ratios measured side by side in one run."
        )
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `blockspec bench` (`blockspec bench`)."""
    parser.add_argument("spec", help="the spec file (*.bspec)")
    parser.add_argument("--batch", type=int, default=1, metavar="N", help="batch size (1)")
    parser.add_argument("--dtype", choices=sorted(_DTYPES), default="float32")
    parser.add_argument("--train", action="store_true", help="also time forward+backward")
    parser.add_argument("--compile", action="store_true", help="run under torch.compile")
    parser.add_argument("--against", metavar="timm:NAME", help="time a timm model alongside")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--repeats", type=int, default=5, metavar="N", help="timed runs (5)")
    parser.add_argument("--warmup", type=int, default=2, metavar="N", help="untimed runs (2)")
    parser.add_argument("--dynamic", type=int, default=64, metavar="N",
                        help="size used for each dynamic (?) input axis (64)")  # fmt: skip
    parser.add_argument("--device", default=None, help="cpu or cuda (default: cuda if present)")


def run(args: argparse.Namespace) -> int:
    """Run the benchmark the parsed ``args`` describe and print its report; returns 0."""
    keys = ("batch", "dtype", "train", "against", "repeats", "warmup", "dynamic", "device")
    report = bench(
        argument_source(args.spec),
        compile_model=args.compile,
        **{k: getattr(args, k) for k in keys},
    )
    print(json.dumps(report, indent=2) if args.json else format_report(report))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m blockspec.bench SPEC ...`` until the CLI has a `bench` subcommand."""
    parser = argparse.ArgumentParser(prog="blockspec bench", description=__doc__.splitlines()[0])
    add_arguments(parser)
    try:
        return run(parser.parse_args(argv))
    except SpecError as err:
        print(err.render(), flush=True)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
