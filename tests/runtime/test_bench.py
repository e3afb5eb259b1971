"""`blockspec.bench` on a tiny spec: the report's fields and the refusals (no timing
assertions: the numbers depend on the machine)."""

from __future__ import annotations

import argparse
import json

import pytest
import torch

from blockspec import bench
from blockspec.errors import SpecError

TINY = """
input { channels = 1, D = 2, H = 8, W = 8 }
cell { window = [4, 4, 1], patch = [2, 2, 1], heads = 2, norm = instance2d }
backbone soanet { channels = 4, stages = ["L1G1"] }
head conv { out_channels = 1 }
"""


def _args(path, *extra: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    bench.add_arguments(parser)
    return parser.parse_args([str(path), "--repeats", "1", "--warmup", "0", *extra])


def test_bench_reports_times_memory_estimate_and_load(tmp_path, capsys) -> None:
    spec = tmp_path / "tiny.bspec"
    spec.write_text(TINY)
    assert bench.run(_args(spec, "--train", "--json", "--device", "cpu")) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["input_shape"] == [1, 1, 2, 8, 8]
    assert report["forward_s"] > 0 and report["forward_backward_s"] > 0
    assert report["saved_for_backward_bytes"] > 0
    # at the end of the forward the step holds every saved tensor but the weights (allocated
    # before the step, so not counted), and then the gradients
    params = sum(p.numel() * 4 for p in __import__("blockspec").compile(TINY).parameters())
    assert report["peak_memory_bytes"] >= report["saved_for_backward_bytes"] - params
    assert report["peak_memory_bytes"] >= params
    assert report["estimate"]["flops"] > 0 and report["estimate"]["params"] > 0
    assert 0 < report["forward_mfu"]
    assert report["gemm_flops_per_s"] > 0
    assert isinstance(report["comparable"], bool)
    assert "load_average_before" in report


def test_bench_text_says_when_the_machine_is_busy(tmp_path, capsys, monkeypatch) -> None:
    spec = tmp_path / "tiny.bspec"
    spec.write_text(TINY)
    monkeypatch.setattr(bench, "load_average", lambda: (64.0, 64.0, 64.0))
    assert bench.run(_args(spec, "--device", "cpu")) == 0
    out = capsys.readouterr().out
    assert "forward (eval, no grad)" in out
    assert "not comparable" in out


def test_bench_against_timm_without_timm_is_a_spec_error(tmp_path, monkeypatch) -> None:
    spec = tmp_path / "tiny.bspec"
    spec.write_text(TINY)
    monkeypatch.setitem(__import__("sys").modules, "timm", None)  # import timm -> ImportError
    with pytest.raises(SpecError, match="timm is not installed"):
        bench.run(_args(spec, "--against", "timm:swin_tiny_patch4_window7_224", "--device", "cpu"))


def test_count_ops_and_saved_bytes() -> None:
    x = torch.randn(4, 4, requires_grad=True)
    assert bench.count_ops(lambda: (x * 2).sum()) == 2
    assert bench.saved_bytes(lambda: (x * x).sum()) == 4 * 4 * 4


def test_peak_bytes_is_the_largest_set_of_live_tensors() -> None:
    def two_then_one() -> None:
        a = torch.empty(1000, 1000)  # 4 MB
        b = torch.empty(500, 1000)  # 2 MB, both live: 6 MB
        del a, b
        c = torch.empty(250, 1000)  # 1 MB
        del c

    assert bench.peak_bytes(two_then_one) == 6_000_000
    kept: list[torch.Tensor] = []
    # memory allocated before the call does not count; what stays allocated does
    big = torch.empty(2000, 1000)
    assert bench.peak_bytes(lambda: kept.append(torch.empty(100, 1000))) == 400_000
    del big


def test_bench_gives_no_estimate_for_a_dynamic_size(tmp_path, capsys) -> None:
    spec = tmp_path / "dyn.bspec"
    spec.write_text(
        TINY.replace("H = 8, W = 8", "H = ?, W = ?").replace(
            "heads = 2,", "heads = 2, rel_pos_bias = false,"
        )
    )
    assert bench.run(_args(spec, "--dynamic", "8", "--json", "--device", "cpu")) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["input_shape"] == [1, 1, 2, 8, 8]
    assert report["estimate"]["flops"] is None and "forward_mfu" not in report


def test_interleaved_mfu_divides_each_call_by_the_gemm_of_its_pair(monkeypatch) -> None:
    from blockspec import _measure

    # the GEMM (2·1024³ FLOPs) takes 1, 2, 4 s and the model call 10, 20, 40 s: every pair
    # has the same ratio although both rates fall 4x during the run
    times = iter([1.0, 10.0, 2.0, 20.0, 4.0, 40.0])
    monkeypatch.setattr(_measure, "median_seconds", lambda fn, repeats, device: next(times))
    gemm = 2.0 * 1024**3
    mfu, rate = bench.interleaved_mfu(lambda: None, gemm / 2, torch.float32, torch.device("cpu"), 3)
    assert mfu == pytest.approx(0.05)  # (gemm/2 / 10 s) / (gemm / 1 s)
    assert rate == pytest.approx(gemm / 2.0)  # the median pair's GEMM rate
