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
    """Swin-T as SEMANTICS.md defines our modules, by hand (the packaged spec is timm's)."""
    total = 3 * 96 * 4 * 4 + 96 + 2 * 96  # stem conv + channel_layer norm
    chans, heads, depths = [96, 192, 384, 768], [3, 6, 12, 24], [2, 2, 6, 2]
    for s, (c, n, d) in enumerate(zip(chans, heads, depths)):
        if s:  # patch merging: LayerNorm(4 C) (downsample_norm), then conv1 without bias
            total += 2 * 4 * chans[s - 1] + 4 * chans[s - 1] * c
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
    return total + 2 * 768 + 768 * 1000 + 1000  # classify head: norm, then fc


def vit_b16_count() -> int:
    """ViT-B/16 by hand: a class token and 197 learned positions, no relative tables; the
    12 heads split channels and add no parameters."""
    c = 768
    total = 3 * c * 16 * 16 + c  # stem conv, no norm
    total += c + (1 + 14 * 14) * c  # stem.class_token, stem.pos_embed
    cell = 2 * c + 4 * (c * c + c) + 2 * c + (c * 4 * c + 4 * c) + (4 * c * c + c)
    return total + 12 * cell + 2 * c + c * 1000 + 1000  # head: norm, then fc


@pytest.mark.parametrize(
    "name, expected, published",
    [("swin_t.bspec", swin_t_count, 28_288_354), ("vit_b16.bspec", vit_b16_count, 86_567_656)],
)
def test_replica_parameter_counts(name, expected, published) -> None:
    got = bs.summary(ROOT / "examples" / name).totals.params
    assert got == expected() == published
