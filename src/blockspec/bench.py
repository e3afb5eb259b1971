"""`blockspec bench SPEC`: time a compiled model and set the summary's estimates beside it.

It builds the model with `blockspec.compile`, warms it up, and reports the median forward
(eval, no autograd) and, with ``--train``, the median forward+backward (train mode, loss =
sum of the outputs); its memory: the peak allocated during one training step above what was
allocated before it (CUDA's allocator statistics; on CPU the profiler's allocation events), and
the bytes autograd saves for the backward (the activation memory of training); the achieved
FLOP/s against a square GEMM timed in the same run (model-FLOP utilisation); the summary's
FLOPs and activation estimate; the load average before and after. When the machine is busy
(load per core above `BUSY_LOAD_PER_CORE`) it says that absolute figures are not comparable:
other work stretches them, and only ratios measured side by side in one run mean anything.

The CLI entry points are `add_arguments` and `run`; the helpers (`count_ops`, `saved_bytes`,
`peak_bytes`, `median_seconds`, `gemm_flops_per_s`, `load_average`) are reused by
``benchmarks/``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from torch.utils._python_dispatch import TorchDispatchMode

from blockspec.errors import SpecError, SpecValueError
from blockspec.sources import argument_source

__all__ = [
    "BUSY_LOAD_PER_CORE",
    "add_arguments",
    "count_ops",
    "gemm_flops_per_s",
    "load_average",
    "machine_busy",
    "median_seconds",
    "peak_bytes",
    "run",
    "saved_bytes",
]

#: above this 1-minute load average per core, absolute timings are reported as not comparable
BUSY_LOAD_PER_CORE = 0.5
_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16}


# ---------------------------------------------------------------------------------- helpers
def load_average() -> tuple[float, float, float] | None:
    """The 1, 5 and 15-minute load averages, or None where the OS does not say."""
    try:
        return os.getloadavg()
    except (OSError, AttributeError):
        return None


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def machine_busy(load: tuple[float, float, float] | None) -> bool:
    """Whether the 1-minute load per core exceeds `BUSY_LOAD_PER_CORE` (unknown: not busy)."""
    return load is not None and load[0] / _cores() > BUSY_LOAD_PER_CORE


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def median_seconds(fn: Callable[[], object], repeats: int, device: torch.device) -> float:
    """Median wall time of ``repeats`` calls of ``fn`` (the device synchronised around each)."""
    times = []
    for _ in range(repeats):
        _sync(device)
        start = time.perf_counter()
        fn()
        _sync(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def gemm_flops_per_s(dtype: torch.dtype, device: torch.device, n: int | None = None) -> float:
    """FLOP/s (2 per multiply-add) of an ``n x n`` matmul in ``dtype``, timed now: the rate a
    model's FLOP/s is compared with, measured under the same load."""
    n = n or (4096 if device.type == "cuda" else 1024)
    gen = torch.Generator(device=device).manual_seed(0)
    a = torch.randn(n, n, device=device, generator=gen).to(dtype)
    b = torch.randn(n, n, device=device, generator=gen).to(dtype)
    torch.mm(a, b)
    return 2.0 * n**3 / median_seconds(lambda: torch.mm(a, b), 5, device)


class _OpCounter(TorchDispatchMode):
    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # noqa: ANN001
        self.count += 1
        return func(*args, **(kwargs or {}))


def count_ops(fn: Callable[[], object]) -> int:
    """How many ATen operators one call of ``fn`` dispatches (views and copies included)."""
    counter = _OpCounter()
    with counter:
        fn()
    return counter.count


def saved_bytes(fn: Callable[[], object]) -> int:
    """Bytes of the distinct tensors autograd saves for the backward while ``fn`` runs: the
    activation memory a training step holds between its forward and its backward."""
    seen: dict[tuple[int, int], int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        storage = t.untyped_storage()
        seen[(storage.data_ptr(), t.device.index or 0)] = storage.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        fn()
    return sum(seen.values())


def _loss(out: object) -> torch.Tensor:
    outs = list(out) if isinstance(out, list | tuple) else [out]
    return sum(o.float().sum() for o in outs)  # type: ignore[return-value]


def peak_bytes(fn: Callable[[], object], device: torch.device | str = "cpu") -> int:
    """The most memory allocated at once while ``fn`` runs, above what was allocated before.

    CUDA: the allocator's peak statistics. CPU has none, so the profiler records every
    allocation and free (``profile_memory``) and the running sum's maximum is the peak; it
    counts tensors only (not the allocator's cache or Python objects) and slows ``fn`` down,
    so time nothing under it."""
    device = torch.device(device)
    if device.type == "cuda":
        _sync(device)
        torch.cuda.reset_peak_memory_stats(device)
        base = torch.cuda.memory_allocated(device)
        fn()
        _sync(device)
        return torch.cuda.max_memory_allocated(device) - base
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        fn()
    events = [e for e in prof.profiler.kineto_results.events() if e.name() == "[memory]"]
    events.sort(key=lambda e: e.start_ns())
    now = peak = 0
    for event in events:
        if event.device_type() == torch.autograd.DeviceType.CPU:
            now += event.nbytes()
            peak = max(peak, now)
    return peak


# ---------------------------------------------------------------------------------- the run
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
    report["gemm_flops_per_s"] = gemm_flops_per_s(tdtype, dev)
    report.update(measure(runner, x, train=train, repeats=repeats, warmup=warmup))
    if estimate["flops"] is not None:
        flops = estimate["flops"] * batch
        report["forward_flops_per_s"] = flops / report["forward_s"]
        report["forward_mfu"] = report["forward_flops_per_s"] / report["gemm_flops_per_s"]
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
            f"{100 * r['forward_mfu']:.1f} % of a same-run GEMM "
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
