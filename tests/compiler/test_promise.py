"""The compiler's promise on the examples and the published replicas: inferred shapes and
parameter counts (total and per node) equal what the compiled module has and returns."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import blockspec as bs
from blockspec.compiler import ir
from blockspec.compiler.infer import output_shapes

ROOT = Path(__file__).resolve().parents[2]
SMALL = ["hrnet3.bspec", "soanet_swin3d.bspec", "vit3d.bspec"]
BIG = ["unet_cine.bspec", "swin_t.bspec", "vit_b16.bspec"]  # forward > 10 s on 2 cores


def own_params(model: torch.nn.Module, path: str, node_paths: set[str]) -> int:
    """Parameters of the module at `path`, without sub-modules that are IR nodes themselves."""
    mods = dict(model.named_modules())
    total = sum(p.numel() for p in mods[path].parameters())
    for other in node_paths:
        if other != path and other.startswith(path + "."):
            nested = [
                o
                for o in node_paths
                if o != other and other.startswith(o + ".") and o.startswith(path + ".")
            ]
            if not nested:
                total -= sum(p.numel() for p in mods[other].parameters())
    return total


def check_promise(name: str, forward: bool = True) -> None:
    net = bs.parse(ROOT / "examples" / name)
    summary = bs.summary(net)
    model = bs.compile(net, seed=0)
    assert sum(p.numel() for p in model.parameters()) == summary.totals.params
    paths = {r.path for r in summary.rows}
    for row in summary.rows:
        assert own_params(model, row.path, paths) == row.stats.params, row.path
    if not forward:
        return
    size = ir.concrete(net.input.size, net.input)
    x = torch.randn(1, net.input.channels, *size)
    model.eval()
    with torch.no_grad():
        out = model(x)
    outs = out if isinstance(out, list) else [out]
    expected = [
        (1, s[0], *ir.concrete(s[1:], net.input)) if len(s) == 4 else (1, *s)
        for s in output_shapes(net)
    ]
    assert [tuple(o.shape) for o in outs] == expected
    assert all(torch.isfinite(o).all() for o in outs)


@pytest.mark.parametrize("name", SMALL)
def test_examples_keep_the_promise(name: str) -> None:
    check_promise(name)


@pytest.mark.parametrize("name", BIG)
def test_big_examples_keep_the_parameter_promise(name: str) -> None:
    check_promise(name, forward=False)


@pytest.mark.slow
@pytest.mark.parametrize("name", BIG)
def test_big_examples_keep_the_promise(name: str) -> None:
    check_promise(name)


def swin_t_count() -> int:
    """Swin-T as SEMANTICS.md defines our modules, by hand."""
    total = 3 * 96 * 4 * 4 + 96 + 2 * 96  # stem conv + channel_layer norm
    chans, heads, depths = [96, 192, 384, 768], [3, 6, 12, 24], [2, 2, 6, 2]
    for s, (c, n, d) in enumerate(zip(chans, heads, depths)):
        if s:
            total += 4 * chans[s - 1] * c  # patch merging conv1, no bias
        cell = (
            2 * c  # norm1
            + 3 * (c * c + c)
            + (c * c + c)  # q, k, v, out (lin, one voxel per token)
            + (2 * 7 - 1) * (2 * 7 - 1) * (2 * 1 - 1) * n  # relative position table
            + 2 * c  # norm2
            + (c * 4 * c + 4 * c)
            + (4 * c * c + c)  # lin mixer, gelu has no parameters
        )
        total += d * cell
    return total + 768 * 1000 + 1000  # classify head


def vit_b16_count() -> int:
    c, n = 768, 12
    total = 3 * c * 16 * 16 + c  # stem, no norm
    cell = (
        2 * c
        + 4 * (c * c + c)
        + (2 * 14 - 1) ** 2 * n
        + 2 * c
        + (c * 4 * c + 4 * c)
        + (4 * c * c + c)
    )
    return total + 12 * cell + c * 1000 + 1000


@pytest.mark.parametrize(
    "name, expected, published, missing",
    [
        # published Swin-T also has a LayerNorm(4C) in each of 3 mergings and a final LayerNorm
        ("swin_t.bspec", swin_t_count, 28_288_354, 2 * 4 * (96 + 192 + 384) + 2 * 768),
        # published ViT-B/16 has a class token, 197 absolute position embeddings and a final
        # LayerNorm, where we have one relative position table per block
        ("vit_b16.bspec", vit_b16_count, 86_567_656, 768 + 197 * 768 + 2 * 768 - 12 * 27 * 27 * 12),
    ],
)
def test_replica_parameter_counts(name, expected, published, missing) -> None:
    got = bs.summary(ROOT / "examples" / name).totals.params
    assert got == expected()
    assert got + missing == published
    assert abs(got - published) / published < 0.001
