"""Measurement helpers of `blockspec bench` and ``benchmarks/``: wall time, the machine's load,
a GEMM reference beside each call (MFU), operator counts and memory (saved for the backward,
and the peak of a call). Re-exported by `blockspec.bench`."""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable

import torch
from torch.utils._python_dispatch import TorchDispatchMode

__all__ = [
    "BUSY_LOAD_PER_CORE",
    "count_ops",
    "gemm_flops_per_s",
    "interleaved_mfu",
    "load_average",
    "machine_busy",
    "median_seconds",
    "peak_bytes",
    "saved_bytes",
]

#: above this 1-minute load average per core, absolute timings are reported as not comparable
BUSY_LOAD_PER_CORE = 0.5


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


def _gemm(dtype: torch.dtype, device: torch.device, n: int | None) -> tuple[Callable, float]:
    """A square ``n x n`` matmul in ``dtype`` (run once) and its FLOPs (2 per multiply-add)."""
    n = n or (4096 if device.type == "cuda" else 1024)
    gen = torch.Generator(device=device).manual_seed(0)
    a = torch.randn(n, n, device=device, generator=gen).to(dtype)
    b = torch.randn(n, n, device=device, generator=gen).to(dtype)
    torch.mm(a, b)
    return (lambda: torch.mm(a, b)), 2.0 * n**3


def gemm_flops_per_s(dtype: torch.dtype, device: torch.device, n: int | None = None) -> float:
    """FLOP/s of an ``n x n`` matmul in ``dtype``, timed now (median of 5)."""
    run, flops = _gemm(dtype, device, n)
    return flops / median_seconds(run, 5, device)


def interleaved_mfu(
    fn: Callable[[], object], flops: float, dtype: torch.dtype, device: torch.device, pairs: int
) -> tuple[float, float]:
    """(median MFU, median GEMM FLOP/s): ``pairs`` times a GEMM then one call of ``fn``
    (``flops`` FLOPs), each call's FLOP/s divided by the GEMM's of its own pair. A shared
    machine's matmul rate moves by 2x within seconds, so a reference timed apart from the
    model says little; timed beside each call it moves with the call."""
    run, gemm_flops = _gemm(dtype, device, None)
    ratios, rates = [], []
    for _ in range(pairs):
        rate = gemm_flops / median_seconds(run, 1, device)
        seconds = median_seconds(fn, 1, device)
        rates.append(rate)
        ratios.append(flops / seconds / rate)
    return statistics.median(ratios), statistics.median(rates)


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
