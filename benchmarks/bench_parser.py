"""Parser scaling (run by hand, not a test): peak memory and time of `parse_spec` on hostile
1 MB inputs, parse and format of n commented lets, and each phase of `bs.parse` against the cell
count (with the share of Python's cyclic garbage collector). Times are the best of 3.

    PYTHONPATH=src .venv/bin/python benchmarks/bench_parser.py [memory] [comments] [cells]

The cell rows lift the network's 4096-cell limit in this process only, to time 10,000 cells.
"""

from __future__ import annotations

import gc
import sys
import time
import tracemalloc

from blockspec.compiler import ast as A
from blockspec.compiler import blocks, pipeline, state
from blockspec.compiler.printer import format_spec
from blockspec.errors import Span, SpecError

MB = 1 << 20


def _lets(size: int) -> str:
    out, n, i = [], 0, 0
    while n + 20 < size:
        line = f"let a{i} = {i}\n"
        out.append(line)
        n, i = n + len(line), i + 1
    return "".join(out)


def _block_string(text: str):
    return A.parse_block_string(A.StrLit(text, Span(1, 1, len(text) + 2)))


def _best(fn, *args, repeats: int = 3) -> tuple[float, str]:
    best, said = 9e9, "ok"
    for _ in range(repeats):
        gc.collect()
        t0 = time.perf_counter()
        try:
            fn(*args)
        except SpecError as err:
            said = f"{type(err).__name__}: {err.message[:50]}"
        best = min(best, time.perf_counter() - t0)
    return best, said


def _peak(fn, *args) -> int:
    gc.collect()
    tracemalloc.start()
    try:
        fn(*args)
    except SpecError:
        pass
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def memory() -> None:
    cases = {
        "newlines": (A.parse_spec, "\n" * MB),
        "crlf": (A.parse_spec, "\r\n" * (MB // 2)),
        "blank lines with spaces": (A.parse_spec, "  \n" * (MB // 3)),
        "semicolons": (A.parse_spec, ";" * MB),
        "valid lets": (A.parse_spec, _lets(MB)),
        "comment lines": (A.parse_spec, "# c\n" * (MB // 4)),
        "block string (L1 * 512k)": (_block_string, "L1" * (MB // 2)),
        "format of valid lets": (lambda t: format_spec(A.parse_spec(t)), _lets(MB)),
    }
    A.parse_spec("let a = 1")  # build the parser outside the timings
    for name, (fn, text) in cases.items():
        dt, said = _best(fn, text, repeats=1)
        peak = _peak(fn, text)
        print(f"{name:26s} {len(text) / MB:4.2f} MB {dt:7.3f} s  peak {peak / MB:7.1f} MiB "
              f"({peak / len(text):5.1f} B/char)  {said}", flush=True)  # fmt: skip


def comments() -> None:
    for n in (5000, 10000, 20000):
        text = "".join(f"# about a{i}\nlet a{i} = {i}  # trailing {i}\n" for i in range(n))
        spec = A.parse_spec(text)
        tp, _ = _best(A.parse_spec, text)
        tf, _ = _best(format_spec, spec)
        print(f"{n:6d} commented lets ({len(text) / MB:.2f} MB): parse {tp:.3f} s  "
              f"format {tf:.3f} s", flush=True)  # fmt: skip


def cells() -> None:
    """Parse and each phase of the pipeline (resolve, validate, finish) against the cell count;
    ``bs.parse`` is their sum."""
    blocks.MAX_CELLS = 20000  # this process only: time 10,000 cells
    spent = [0.0, 0.0]

    def on_gc(phase: str, info: dict) -> None:
        if phase == "start":
            spent[1] = time.perf_counter()
        else:
            spent[0] += time.perf_counter() - spent[1]

    gc.callbacks.append(on_gc)
    names = ("resolve", "validate", "finish")
    for n in (1000, 2000, 4000, 10000):
        text = (
            "input { channels = 1, D = 1, H = 16, W = 16 }\n"
            "cell { window = [4, 4, 1], heads = 1 }\n"
            f'backbone soanet {{ channels = 4, stages = ["((L1)*10)*{n // 10}"] }}\n'
        )
        best: dict[str, float] = {}
        for _ in range(3):
            gc.collect()
            spent[0] = 0.0
            times = {}
            t0 = time.perf_counter()
            unit = state.Unit(A.parse_spec(text))
            times["parse"] = time.perf_counter() - t0
            for name, phase in zip(names, pipeline.PHASES, strict=True):
                t = time.perf_counter()
                for step in phase:
                    unit = step(unit)
                assert not unit.errors, unit.errors
                times[name] = time.perf_counter() - t
            times["total"] = time.perf_counter() - t0
            times["of which gc"] = spent[0]
            for key, v in times.items():
                best[key] = min(best.get(key, 9e9), v)
            del unit
        print(f"{n:6d} cells: " + "  ".join(f"{k} {v:.3f}" for k, v in best.items()), flush=True)
    gc.callbacks.remove(on_gc)


if __name__ == "__main__":
    chosen = sys.argv[1:] or ["memory", "comments", "cells"]
    for part in chosen:
        {"memory": memory, "comments": comments, "cells": cells}[part]()
