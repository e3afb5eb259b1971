"""The public API around the compiler: sources, summary, block, compiled-model attributes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

import blockspec as bs
from blockspec.compiler import ir
from blockspec.errors import SpecError, SpecValueError

ROOT = Path(__file__).resolve().parents[2]
SMALL = (
    "let C = 8\n"
    "input { channels = 2, D = 1, H = 16, W = 16 }\n"
    "cell { window = [4, 4, 1], heads = 2 }\n"
    'backbone unet { channels = C, levels = 2, blocks = ["L1G1"] }\n'
    "head conv { out_channels = 3 }\n"
)


def test_source_forms(tmp_path: Path) -> None:
    f = tmp_path / "small.bspec"
    f.write_text(SMALL, encoding="utf-8")
    assert bs.parse(f) == bs.parse(str(f)) == bs.parse(SMALL)
    assert bs.parse(f).file == str(f)
    with pytest.raises(SpecValueError, match="no such spec file"):
        bs.parse(str(tmp_path / "missing.bspec"))


def test_compiled_model_keeps_spec_and_ir() -> None:
    model = bs.compile(SMALL, seed=3)
    assert model.spec == bs.format(SMALL)
    assert model.ir == bs.parse(SMALL)
    assert bs.parse(model.spec) == model.ir
    y = model(torch.randn(2, 2, 1, 16, 16))
    assert y.shape == (2, 3, 1, 16, 16)
    keys = set(model.state_dict())
    assert "level0.enc.cell0.attn.q.weight" in keys
    assert "head.conv.weight" in keys


def test_same_seed_same_weights_other_seed_other_weights() -> None:
    a, b, c = (bs.compile(SMALL, seed=s).state_dict() for s in (0, 0, 1))
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert any(not torch.equal(a[k], c[k]) for k in a if a[k].is_floating_point())


def test_summary_table_and_dict_agree() -> None:
    s = bs.summary(SMALL)
    d = s.to_dict()
    json.dumps(d)
    assert d["totals"]["params"] == s.totals.params == sum(n["params"] for n in d["nodes"])
    assert [n["path"] for n in d["nodes"]] == [r.path for r in s.rows]
    table = str(s)
    for r in s.rows:
        assert r.path in table
    assert f"{s.totals.params:,}" in table
    folded = s.table(depth=1)
    assert "level0.enc" not in folded and "level0" in folded


def test_summary_of_a_dynamic_spec_is_symbolic() -> None:
    text = SMALL.replace("H = 16, W = 16", "H = ?, W = 16").replace(
        "blocks", "gate = false, blocks"
    )
    text = text.replace('"L1G1"', '"L1C2"')
    s = bs.summary(text)
    assert s.network.input.step[1] == 16  # window 4 at level 2 (H/4), and halving twice
    enc1 = next(r for r in s.rows if r.path == "level1.enc")
    assert str(enc1.out_shape[2]) == "H/2"
    assert "any multiple of 16" in str(s)
    model = bs.compile(text)
    for h in (16, 32, 48):
        assert model(torch.randn(1, 2, 1, h, 16)).shape == (1, 3, 1, h, 16)
    with pytest.raises(bs.ShapeError, match="16"):
        model(torch.randn(1, 2, 1, 24, 16))


def test_block_builds_one_block_with_defaults() -> None:
    blk = bs.block("T1L1G1", C_in=8, C_out=16, H=16, W=16, D=4, window=[8, 8, 1], heads=4)
    x = torch.randn(2, 8, 4, 16, 16)
    assert blk(x).shape == (2, 16, 4, 16, 16)
    assert "T1L1G1" in repr(blk)
    with pytest.raises(SpecError):
        bs.block("T1L1G1", C_in=8, C_out=16, H=16, W=16, heads=3)


def test_error_from_a_let_names_it() -> None:
    text = "let WIN = [12, 12, 1]\n" + SMALL.replace("[4, 4, 1]", "WIN")
    with pytest.raises(bs.ShapeError) as info:
        bs.parse(text)
    err = info.value
    assert err.span.line == 4  # the use site in cell {}
    assert "WIN" in err.message or "WIN" in (err.hint or "")


def test_ir_is_frozen_and_hashable() -> None:
    net = bs.parse(SMALL)
    hash(net)
    with pytest.raises(AttributeError):
        net.input = None  # type: ignore[misc]
    assert isinstance(net.backbone, ir.UNet)
