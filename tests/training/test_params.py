"""`param_groups`: every parameter in exactly one group, norms / biases / position tables /
temperatures without weight decay."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

import blockspec as bs
from blockspec.runtime.attention.base import WindowAttention
from blockspec.runtime.attention.temporal import TemporalAttention
from blockspec.runtime.norms import FrameLayerNorm
from blockspec.training import param_groups

from .specs import CLASSIFY, DENOISE

EXAMPLES = sorted((Path(__file__).parents[2] / "examples").glob("*.bspec"))

TEMPORAL = """
input { channels = 2, D = 4, H = 8, W = 8 }
cell { window = [4, 4, 1], heads = 2, norm = layer }
backbone soanet { channels = [8], stages = ["T1L1V2"] }
"""


def _expected_no_decay(model: nn.Module) -> set[str]:
    """Written from what the runtime builds, not from `params.py`: vectors (biases, norm
    scales, temperatures, PReLU slopes, the class token), the position tables and the stem's
    position embedding, and the [C, H, W] scale and shift of the `layer` norm."""
    out = set()
    for mod_name, mod in model.named_modules():
        for name, p in mod.named_parameters(recurse=False):
            full = f"{mod_name}.{name}" if mod_name else name
            if p.ndim <= 1 or isinstance(mod, FrameLayerNorm):
                out.add(full)
            elif isinstance(mod, WindowAttention) and name == "pos_table":
                out.add(full)
            elif full == "stem.pos_embed":
                out.add(full)
    return out


def _check(model: nn.Module, wd: float = 0.1) -> list[dict]:
    groups = param_groups(model, weight_decay=wd)
    names = [n for g in groups for n in g["param_names"]]
    assert len(names) == len(set(names)), "a parameter is in two groups"
    assert set(names) == {n for n, _ in model.named_parameters()}
    by_name = dict(model.named_parameters())
    for g in groups:
        assert len(g["params"]) == len(g["param_names"])
        assert all(p is by_name[n] for p, n in zip(g["params"], g["param_names"]))
    decay = {n for g in groups if g["weight_decay"] == wd for n in g["param_names"]}
    keep = {n for g in groups if g["weight_decay"] == 0.0 for n in g["param_names"]}
    assert keep == _expected_no_decay(model)
    assert decay == set(names) - keep
    return groups


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_examples_split_into_two_groups(path: Path) -> None:
    model = bs.compile(path, seed=None)
    _check(model)
    # every conv / linear weight decays
    decay = set(param_groups(model, 0.1)[0]["param_names"])
    for mod_name, mod in model.named_modules():
        if isinstance(mod, nn.Conv2d | nn.Conv3d | nn.Linear):
            assert f"{mod_name}.weight" in decay


@pytest.mark.parametrize("spec", [DENOISE, CLASSIFY, TEMPORAL], ids=["unet", "soanet", "temporal"])
def test_tables_and_temperatures_do_not_decay(spec: str) -> None:
    model = bs.compile(spec)
    groups = _check(model)
    keep = set(groups[1]["param_names"])
    taus = [n for n, _ in model.named_parameters() if n.endswith(".tau")]
    tables = [n for n, _ in model.named_parameters() if n.endswith(".pos_table")]
    assert taus and set(taus) <= keep  # cosine attention is the default
    if spec is not TEMPORAL:
        assert tables and set(tables) <= keep
    else:
        temporal = [m for m in model.modules() if isinstance(m, TemporalAttention)]
        assert temporal and all(m.tau is not None for m in temporal)
        norms = [n for n, m in model.named_modules() if isinstance(m, FrameLayerNorm)]
        assert norms and all(f"{n}.weight" in keep for n in norms)


def test_groups_build_an_optimizer_and_skip_frozen() -> None:
    model = bs.compile(DENOISE)
    first = next(iter(model.parameters()))
    first.requires_grad_(False)
    groups = param_groups(model, weight_decay=0.05)
    assert all(p is not first for g in groups for p in g["params"])
    opt = torch.optim.AdamW(groups, lr=1e-3)
    assert [g["weight_decay"] for g in opt.param_groups] == [0.05, 0.0]
    every = param_groups(model, weight_decay=0.05, skip_frozen=False)
    assert sum(len(g["params"]) for g in every) == len(list(model.parameters()))


def test_a_wrapper_prefix_is_kept_and_bad_decay_refused() -> None:
    model = bs.compile(CLASSIFY)
    wrapped = nn.Sequential(model)
    names = {n for g in param_groups(wrapped) for n in g["param_names"]}
    assert names == {f"0.{n}" for n, _ in model.named_parameters()}
    with pytest.raises(ValueError, match="weight_decay"):
        param_groups(model, weight_decay=-1.0)


def test_class_token_and_position_embedding_do_not_decay() -> None:
    model = bs.create("vit_s16", size=32, classes=3)  # the packaged ViT-S/16 on 2 x 2 patches
    groups = _check(model)
    keep = set(groups[1]["param_names"])
    assert {"stem.class_token", "stem.pos_embed", "head.norm.weight"} <= keep
    assert "stem.conv.weight" in set(groups[0]["param_names"])
