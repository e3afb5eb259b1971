"""Compiler timings (run by hand): parse+validate of a 1,000-cell spec, compile of each example,
refusal of a 10^12-parameter spec and of a 10^6-cell block string, and the replicas' parameters,
FLOPs and forward time at 224x224. Prints medians of 5 runs.

    .venv/bin/python benchmarks/bench_compiler.py
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

import torch

import blockspec as bs
from blockspec.api import _parse_text
from blockspec.errors import SpecError

ROOT = Path(__file__).resolve().parents[1]


def median_time(fn, n: int = 5) -> float:
    times = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def fresh_parse(text: str):
    _parse_text.cache_clear()
    return bs.parse(text)


def expect_error(text: str) -> None:
    _parse_text.cache_clear()
    try:
        bs.compile(text)
    except SpecError:
        return
    raise AssertionError("expected a SpecError")


def main() -> None:
    torch.set_num_threads(2)
    thousand = (
        "input { channels = 1, D = 4, H = 32, W = 32 }\n"
        "cell { window = [8, 8, 1], heads = 2 }\n"
        'backbone soanet { channels = 8, stages = ["(T1L1G1C2)*250"] }\n'
    )
    assert len(list(fresh_parse(thousand).cells())) == 1000
    print(f"parse+validate, 1,000-cell spec: {median_time(lambda: fresh_parse(thousand)):.3f} s")
    huge = thousand.replace("channels = 8", "channels = 1000000").replace("*250", "*1")
    print(
        f"refuse 10^12 params (BudgetError): {median_time(lambda: expect_error(huge)) * 1e3:.1f} ms"
    )
    cells = thousand.replace('"(T1L1G1C2)*250"', '"((C2)*1000)*1000"')
    print(f"refuse ((C2)*1000)*1000: {median_time(lambda: expect_error(cells)) * 1e3:.1f} ms")
    power = "let X = 9 ** 9 ** 9\n" + thousand
    print(f"refuse 9 ** 9 ** 9: {median_time(lambda: expect_error(power)) * 1e3:.1f} ms")
    print()
    print(f"{'example':24} {'params':>12} {'GFLOPs':>9} {'compile s':>10}")
    for path in sorted((ROOT / "examples").glob("*.bspec")):
        net = bs.parse(path)
        s = bs.summary(net)
        t = median_time(lambda net=net: bs.compile(net, seed=0), n=3)
        print(f"{path.name:24} {s.totals.params:>12,} {s.totals.flops / 1e9:>9.2f} {t:>10.3f}")
    print()
    published = {"swin_t.bspec": (28_288_354, 4.5), "vit_b16.bspec": (86_567_656, 17.6)}
    for name, (p_pub, macs_pub) in published.items():
        net = bs.parse(ROOT / "examples" / name)
        s = bs.summary(net)
        model = bs.compile(net).eval()
        x = torch.randn(1, 3, 1, 224, 224)
        with torch.no_grad():
            model(x)
            t = median_time(lambda m=model, x=x: m(x))
        print(
            f"{name}: params {s.totals.params:,} (published {p_pub:,}, "
            f"{100 * (s.totals.params - p_pub) / p_pub:+.3f} %), "
            f"{s.totals.flops / 2e9:.2f} G multiply-adds (published {macs_pub} G), "
            f"forward [1, 3, 1, 224, 224] median of 5: {t * 1e3:.0f} ms"
        )


if __name__ == "__main__":
    with torch.no_grad():
        main()
