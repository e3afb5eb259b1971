"""What the A/B benchmarks share: interleaved timing of two callables and the table line."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

__all__ = ["interleaved", "ratio_text"]


def _timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def interleaved(fa: Callable[[], object], fb: Callable[[], object], pairs: int) -> dict:
    """One warm-up each, then `pairs` pairs A, B / B, A (the order flips every pair): each
    side's median, the per-pair ratios B/A and their median (> 1: A is faster)."""
    fa(), fb()
    ta: list[float] = []
    tb: list[float] = []
    for i in range(pairs):
        for side in ("A", "B") if i % 2 == 0 else ("B", "A"):
            (ta if side == "A" else tb).append(_timed(fa if side == "A" else fb))
    ratios = [b / a for a, b in zip(ta, tb)]
    return {"A_median_s": statistics.median(ta), "B_median_s": statistics.median(tb),
            "ratio_median": statistics.median(ratios), "ratios": ratios}  # fmt: skip


def ratio_text(row: dict) -> str:
    """`` | forward A .. ms B .. ms B/A ..`` for each timed kind in `row`."""
    line = ""
    for kind in ("forward", "forward_backward"):
        if kind in row:
            k = row[kind]
            a_ms, b_ms = k["A_median_s"] * 1e3, k["B_median_s"] * 1e3
            line += f" | {kind} A {a_ms:.0f} ms B {b_ms:.0f} ms B/A {k['ratio_median']:.2f}"
    return line
