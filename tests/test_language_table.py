"""The language table is the one statement of the language: everything that keeps its own
list for a reason is checked against it here.

- The runtime's name -> class maps (norms, activations, attention cores) are the runtime's
  own (it must not depend on the compiler), so they are compared with the table.
- The hypothesis strategies are a deliberately independent oracle (written from LANGUAGE.md,
  never from the compiler), so their tables are compared too, not imported.
"""

from __future__ import annotations

import dataclasses

from blockspec import language as L
from blockspec.language.schema import BlockConfig, CellConfig
from blockspec.runtime.activations import ACTIVATION_LAYERS
from blockspec.runtime.attention import CORES
from blockspec.runtime.norms import NORM_LAYERS
from blockspec.testing import strategies as S


def test_runtime_maps_name_exactly_the_languages_options():
    assert set(NORM_LAYERS) == set(L.NORMS)
    assert set(ACTIVATION_LAYERS) == set(L.ACTIVATIONS)
    assert set(CORES) == set(L.FAMILIES)


def test_every_code_selects_a_family():
    assert {fam for fam, _ in L.CODES.values()} == set(L.FAMILIES)
    assert all(code[0] == ("F" if fam == "T" and code[0] == "F" else fam[0])
               for code, (fam, _) in L.CODES.items())  # fmt: skip


def test_cell_config_defaults_are_the_key_defaults():
    fields = {f.name: f for f in dataclasses.fields(CellConfig)}
    per_cell = {k for k, key in L.CELL_KEYS.items() if not key.block_level}
    # every per-cell key but the sizing rule (consumed by window sizing) is a config field
    assert per_cell - {"window_sizing"} <= set(fields)
    for k in per_cell - {"window_sizing"}:
        assert fields[k].default == L.CELL_DEFAULTS[k], k
    block_fields = {f.name for f in dataclasses.fields(BlockConfig)}
    assert {k for k, key in L.CELL_KEYS.items() if key.block_level} <= block_fields


def test_value_names_cover_every_option():
    for table in (L.options.NORMS, L.options.ACTIVATIONS, L.options.WINDOW_SIZING,
                  L.options.LAYOUTS, L.options.DOWNSAMPLE, L.options.UPSAMPLE,
                  L.options.BACKBONES, L.options.HEADS):  # fmt: skip
        assert set(table) <= L.VALUE_NAMES
    assert not (L.VALUE_NAMES & L.RESERVED)
    for key in L.CELL_KEYS.values():
        assert set(key.type.options) <= L.VALUE_NAMES


def test_option_meanings_are_written():
    for table in (L.options.NORMS, L.options.ACTIVATIONS, L.options.ATTENTION_KINDS,
                  L.options.MIXER_KINDS, L.options.DOWNSAMPLE, L.options.UPSAMPLE):  # fmt: skip
        assert all(isinstance(v, str) and len(v) >= 3 for v in table.values())


def test_the_strategies_oracle_agrees_with_the_table():
    assert set(S.ALL_CODES) == set(L.CODES)
    assert S._FAMILY == {code: fam for code, (fam, _) in L.CODES.items()}
    assert S._ATTN == L.families_where("attention")
    assert S._WINDOWED == L.families_where("windowed")
    assert S._PATCHED == L.families_where("patched")
    assert S._THREE_D == L.families_where("three_d")
    assert S._SIZE_TABLES == L.families_where("size_table")
    assert set(S._ACTIVATIONS) == set(L.ACTIVATIONS)
    assert set(S._NORMS) == set(L.NORMS)
    assert set(S._PER_FRAME_NORMS) == set(L.NORMS) - L.options.FRAME_MIXING_NORMS - {
        "batch2d"
    }  # batch2d is per frame but mixes samples: the oracle keeps it out of causal cells


def test_family_facts_match_the_semantics():
    """A few facts written from SEMANTICS.md by hand, so the table cannot drift alone."""
    F = L.FAMILIES
    assert [n for n, f in F.items() if f.three_d] == ["L3", "G3", "V3", "S3", "Sh", "C3"]
    assert F["L"].token_pixels((8, 8, 1), (2, 2, 1)) == 4
    assert F["V3"].token_pixels((4, 4, 2), (2, 2, 1)) == 32
    assert F["S3"].token_pixels((4, 4, 2), (2, 2, 2)) == 1
    assert F["G"].grid((8, 8, 1), (2, 2, 1), (1, 32, 64)) == (4, 8)
    assert F["L3"].grid((8, 8, 2), (2, 2, 1), (4, 32, 32)) == (4, 4, 2)
    assert F["T"].group_size((8, 8, 1), (2, 2, 1), (7, 16, 16)) == 7
    assert F["Sh"].group_size((4, 4, 2), (1, 1, 1), (4, 8, 8)) == 32
    assert not F["C2"].attention and F["C3"].kernel == 27 and F["C2"].kernel == 9


def test_gelu_erf_is_the_exact_gelu_end_to_end():
    """The first key of the replica work, added in one table entry plus its runtime class."""
    import math

    import torch

    import blockspec as bs
    from blockspec.runtime.activations import build_activation

    x = torch.linspace(-4, 4, 101, dtype=torch.float64)
    exact = 0.5 * x * (1 + torch.erf(x / math.sqrt(2)))
    torch.testing.assert_close(build_activation("gelu_erf")(x), exact)
    assert (build_activation("gelu")(x) - exact).abs().max() > 1e-5  # gelu stays tanh
    text = (
        "input { channels = 1, D = 1, H = 8, W = 8 }\n"
        "cell {{ activation = {act}, window = [4, 4, 1], heads = 2 }}\n"
        'backbone soanet { channels = 4, stages = ["L1C2"] }\n'
    )
    erf = bs.compile(text.replace("{act}", "gelu_erf").replace("{{", "{").replace("}}", "}"))
    tanh = bs.compile(text.replace("{act}", "gelu").replace("{{", "{").replace("}}", "}"))
    assert bs.summary(erf.spec).totals.params == sum(p.numel() for p in erf.parameters())
    assert [k for k in erf.state_dict()] == [k for k in tanh.state_dict()]
    y = torch.randn(1, 1, 1, 8, 8)
    assert not torch.allclose(erf.eval()(y)[-1], tanh.eval()(y)[-1])
