"""Key-path overrides: ``--set backbone.levels=5``, ``cell.heads=4``,
``backbone.level2.heads=8`` set entries as if the spec had them, with errors in
<overrides> and a canonical text that rebuilds the same network."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import blockspec as bs
from blockspec.api import OverrideText as O
from blockspec.errors import SpecError
from blockspec.testing.strategies import specs

BASE = """\
input { channels = 1, D = 1, H = 32, W = 32 }
cell { window = [8, 8, 1], heads = 2 }  # kept
backbone unet { channels = 8, levels = 3, blocks = ["L1"] }
"""


def _edited(text: str, old: str, new: str) -> bs.compiler.ir.Network:
    assert old in text
    return bs.parse(text.replace(old, new, 1))


def test_a_key_path_equals_editing_the_spec():
    net = bs.parse(BASE, {"backbone.levels": 2})
    assert net == _edited(BASE, "levels = 3", "levels = 2")
    net = bs.parse(BASE, {"cell.heads": O("4")})
    assert net == _edited(BASE, "heads = 2", "heads = 4")
    added = bs.parse(BASE, {"cell.dropout": 0.0})
    assert added == _edited(BASE, "heads = 2 }", "heads = 2, dropout = 0.0 }")


def test_a_level_entry_is_created_or_extended():
    net = bs.parse(BASE, {"backbone.level1.heads": 4})
    want = _edited(BASE, 'blocks = ["L1"] }', 'blocks = ["L1"], level 1 { heads = 4 } }')
    assert net == want
    assert [c.config.heads for c in net.cells() if c.path.startswith("level1.")] == [4, 4]
    twice = bs.parse(net.text, {"backbone.level1.dropout": 0.0})
    assert all(c.config.dropout == 0.0 for c in twice.cells() if c.path.startswith("level1."))
    assert all(c.config.heads == 4 for c in twice.cells() if c.path.startswith("level1."))


def test_a_missing_cell_section_is_created():
    text = 'input { channels = 1, D = 1, H = 8, W = 8 }\nbackbone soanet { channels = 4, stages = ["C2"] }\n'  # noqa: E501
    net = bs.parse(text, {"cell.dropout": 0.0})
    assert all(c.config.dropout == 0.0 for c in net.cells())
    assert "dropout = 0.0" in net.text and bs.parse(net.text) == net


def test_the_canonical_text_carries_key_paths_and_comments():
    net = bs.parse(BASE, {"backbone.levels": 2, "cell.heads": 4, "backbone.level0.heads": 1})
    assert "# kept" in net.text
    assert bs.parse(net.text) == net
    model = bs.compile(BASE, overrides={"backbone.levels": 2})
    assert bs.parse(model.spec) == model.ir


@pytest.mark.parametrize(
    "name, value, message, column",
    [
        ("backbone.levls", 2, "unknown key 'levls' in backbone unet", 10),
        ("cel.heads", 4, "unknown section 'cel'", 1),
        ("stem.patch", [2, 2, 1], "no 'stem' section", 1),
        ("backbone.stage1.heads", 2, "'stage1'", 10),
        ("backbone.level1.heads", O("x"), "heads must be an integer", 23),
        ("backbone.level1.x.y", 1, "is not SECTION.KEY", 1),
        ("cell.dense", O("2"), "dense must be true or false", 12),
    ],
)
def test_a_bad_key_path_points_into_overrides(name, value, message, column):
    with pytest.raises(SpecError) as info:
        bs.parse(BASE, {name: value})
    err = info.value
    assert message in err.message, err.message
    assert (err.span.file, err.span.line, err.span.column) == ("<overrides>", 1, column)


@settings(max_examples=25, deadline=None)
@given(specs(), st.sampled_from(["0.0", "0.25"]), st.sampled_from(["relu", "gelu_erf"]))
def test_key_paths_on_generated_specs(spec, dropout, act):
    """A property over valid specs: the cell-level keys set by path reach every cell that
    does not set them closer, and the canonical text rebuilds the network."""
    net = bs.parse(spec.text, {"cell.dropout": O(dropout), "cell.activation": O(act)})
    assert bs.parse(net.text) == net
    for cell in net.cells():
        if cell.origin("dropout").layer == "cell":
            assert cell.config.dropout == float(dropout)
        if cell.origin("activation").layer == "cell":
            assert cell.config.activation == act
    s = bs.summary(net)
    assert s.totals.params == bs.summary(net.text).totals.params


DP = (
    "input { channels = 1, D = 1, H = 16, W = 16 }\n"
    "cell { window = [4, 4, 1], heads = 2 }\n"
    'backbone unet { channels = 4, levels = 1, blocks = ["L1C2"], drop_path_rate = 0.25 }\n'
)


def test_drop_path_rate_rises_linearly_over_the_cells_in_build_order():
    net = bs.parse(DP)
    rates = [c.config.dropout for c in net.cells()]
    assert rates == pytest.approx([0.25 * i / 5 for i in range(6)])  # timm's linspace(0, R, N)
    model = bs.compile(net)
    built = {n: m.drop_path.p for n, m in model.named_modules() if hasattr(m, "drop_path")}
    for cell in net.cells():  # the runtime's DropPath of each cell gets its rate
        assert built[cell.path] == pytest.approx(cell.config.dropout)
    assert bs.parse(net.text) == net
    soa = bs.parse(DP.replace("unet", "soanet").replace('levels = 1, blocks = ["L1C2"]',
                   'stages = ["L1", "C2L1"]'))  # fmt: skip
    assert [c.config.dropout for c in soa.cells()] == pytest.approx([0.0, 0.125, 0.25])


@pytest.mark.parametrize(
    "old, new",
    [
        ("heads = 2 }", "heads = 2, dropout = 0.0 }"),
        ('["L1C2"]', '["L1(dropout=0.1)C2"]'),
        ('["L1C2"]', '["L1C2"], level 0 { dropout = 0.0 }'),
    ],
)
def test_drop_path_rate_and_dropout_together_are_refused(old, new):
    text = DP.replace(old, new)
    with pytest.raises(SpecError) as info:
        bs.parse(text)
    assert "drop_path_rate" in info.value.message
    line = text.split("\n")[info.value.span.line - 1]
    assert line[info.value.span.column - 1 :].startswith(("0.0", "0.1"))
