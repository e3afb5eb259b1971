"""Compiled models under torch.compile, torch.export and (optional extra) ONNX export."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import torch

import blockspec as bs
from blockspec.runtime.block import Block
from tiny_specs import TINY, example_input, flat

KINDS = sorted(TINY)


def _close(got, want, tol: float = 1e-5) -> None:
    got, want = flat(got), flat(want)
    assert len(got) == len(want)
    for a, b in zip(got, want):
        assert a.shape == b.shape and a.dtype == b.dtype == torch.float32
        torch.testing.assert_close(a, b, rtol=tol, atol=tol)


@pytest.fixture(autouse=True)
def _fresh_dynamo():
    torch._dynamo.reset()
    yield
    torch._dynamo.reset()


@pytest.mark.parametrize("kind", KINDS)
def test_dynamo_traces_without_graph_breaks(kind: str) -> None:
    """fullgraph=True raises on any graph break; the eager backend keeps this test quick."""
    model = bs.compile(TINY[kind]).eval()
    x = example_input(model)
    compiled = torch.compile(model, backend="eager", fullgraph=True)
    with torch.no_grad():
        _close(compiled(x), model(x))


# one tiny spec (a local-attention cell and a conv cell, 11k parameters) for inductor: its
# compile costs ~100 s of CPU per graph, so it is compiled once and every test reads the result
INDUCTOR_SPEC = """
input { channels = 1, D = 1, H = 8, W = 8 }
cell { window = [4, 4, 1], heads = 2 }
backbone soanet { channels = 8, stages = ["L1C2"] }
head conv { out_channels = 1 }
"""
INDUCTOR_TIMEOUT_S = 900  # a loaded 2-core machine needs several times the idle figure


@pytest.fixture(scope="module")
def inductor_run() -> dict:
    """Compile INDUCTOR_SPEC with inductor (fullgraph) once; its outputs and dynamo's counts."""
    from torch._dynamo.utils import counters

    torch._dynamo.reset()
    counters.clear()
    model = bs.compile(INDUCTOR_SPEC).eval()
    x = example_input(model)
    x2 = torch.randn(x.shape, generator=torch.Generator().manual_seed(5))
    compiled = torch.compile(model, fullgraph=True)  # inductor: the default backend
    with torch.no_grad():
        run = {
            "got": [compiled(x), compiled(x2)],  # the same graph, other values
            "want": [model(x), model(x2)],
            "graphs": counters["stats"]["unique_graphs"],
            "breaks": dict(counters["graph_break"]),
        }
    torch._dynamo.reset()
    return run


@pytest.mark.slow
@pytest.mark.timeout(INDUCTOR_TIMEOUT_S)
def test_torch_compile_inductor_matches_eager(inductor_run: dict) -> None:
    for got, want in zip(inductor_run["got"], inductor_run["want"], strict=True):
        _close(got, want)
    assert not torch.equal(*inductor_run["got"])


@pytest.mark.slow
@pytest.mark.timeout(INDUCTOR_TIMEOUT_S)
def test_torch_compile_inductor_is_one_graph_without_breaks(inductor_run: dict) -> None:
    assert inductor_run["breaks"] == {}
    assert inductor_run["graphs"] == 1


def test_training_with_activation_checkpointing_has_no_graph_break() -> None:
    """Regression: block.py once mutated a counter inside the checkpointed function. The
    smallest network with checkpointed blocks (tracing one takes ~1 s per cell)."""
    spec = INDUCTOR_SPEC.replace("heads = 2 }", "heads = 2, checkpoint = true }")
    assert "checkpoint = true" in spec
    model = bs.compile(spec).train()
    blocks = [b for b in model.modules() if isinstance(b, Block)]
    assert blocks and all(b.cfg.checkpoint for b in blocks)
    compiled = torch.compile(model, backend="eager", fullgraph=True)
    compiled(example_input(model)).sum().backward()


@pytest.mark.parametrize("kind", KINDS)
def test_torch_export_static_shape_matches_eager(kind: str) -> None:
    model = bs.compile(TINY[kind]).eval()
    x = example_input(model)
    program = torch.export.export(model, (x,))
    with torch.no_grad():
        _close(program.module()(x), model(x))
        x2 = torch.randn_like(x)  # same shape, other values
        _close(program.module()(x2), model(x2))


def test_torch_export_of_a_loaded_checkpoint(tmp_path: Path) -> None:
    model = bs.compile(TINY["soanet"], seed=9).eval()
    bs.save(model, tmp_path / "m.pt")
    loaded = bs.load(tmp_path / "m.pt")
    x = example_input(loaded)
    with torch.no_grad():
        _close(torch.export.export(loaded, (x,)).module()(x), model(x))


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["unet", "soanet"])
def test_onnx_export(kind: str, tmp_path: Path) -> None:
    """ONNX through the TorchScript exporter. (torch 2.13's dynamo exporter fails in its own
    decompositions on these graphs — 'Cannot view a tensor ...' — while torch.export works.)"""
    onnx = pytest.importorskip("onnx")
    model = bs.compile(TINY[kind]).eval()
    x = example_input(model)
    path = tmp_path / f"{kind}.onnx"
    torch.onnx.export(model, (x,), str(path), dynamo=False, opset_version=17)
    onnx.checker.check_model(onnx.load(str(path)))
    ort = pytest.importorskip("onnxruntime")
    session = ort.InferenceSession(str(path))
    outputs = session.run(None, {session.get_inputs()[0].name: x.numpy()})
    with torch.no_grad():
        _close([torch.from_numpy(o) for o in outputs], model(x), tol=1e-4)


def test_torch_trace_records_stay_out_of_reports(caplog: pytest.LogCaptureFixture) -> None:
    """Regression: a failing compile test's report held ~1,700 DEBUG lines of torch.__trace."""
    caplog.set_level(logging.DEBUG)
    compiled = torch.compile(lambda t: torch.relu(t) * 2, backend="eager", fullgraph=True)
    assert torch.equal(compiled(torch.tensor([-1.0, 2.0])), torch.tensor([0.0, 4.0]))
    assert [r for r in caplog.records if r.name.startswith("torch.__trace")] == []
