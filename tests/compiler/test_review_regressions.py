"""Regressions from the code review: each case once escaped, pointed at the wrong place, or was
silently accepted."""

from __future__ import annotations

import pytest

import blockspec as bs
from blockspec.errors import ShapeError, SpecError, SpecValueError

B = "input { channels = 1, D = 1, H = 64, W = 64 }\n"


@pytest.mark.timeout(10)
@pytest.mark.parametrize(
    "text",
    [
        "let X = " + "1 + " * 1000 + "1\n",
        "let X = " + "-" * 1000 + "1\n",
        "let X = " + "[" * 1200 + "]" * 1200 + "\n",
    ],
    ids=["long chain", "many negations", "deep list"],
)
def test_format_refuses_what_parse_refuses(text: str) -> None:
    with pytest.raises(SpecValueError):
        bs.format(text)


def test_a_failed_let_is_reported_once() -> None:
    text = "let C = 1/0\n" + B + 'backbone unet { channels = C, blocks = ["C2"] }\n'
    with pytest.raises(SpecValueError) as info:
        bs.parse(text)
    assert [(e.span.line, e.span.column) for e in info.value.errors] == [(1, 10)]


def test_override_errors_come_first(tmp_path) -> None:
    from blockspec.api import OverrideText

    f = tmp_path / "a.bspec"
    f.write_text("let C = 4\n" + B + 'backbone unet { channels = C, blocks = ["C2"] }\n')
    with pytest.raises(SpecError) as info:
        bs.parse(f, overrides={"C": OverrideText("?")})
    assert info.value.span.file == "<overrides>"


def test_level_index_with_many_digits_is_refused() -> None:
    text = B + 'backbone unet { blocks = ["C2"]\n level 99999999999999999999 { norm = layer } }\n'
    with pytest.raises(SpecValueError) as info:
        bs.parse(text)
    assert (info.value.span.line, info.value.span.column) == (3, 8)


def test_list_items_from_a_let_point_at_the_use_site() -> None:
    text = "let X = [0, 8, 1]\n" + B + "cell { window = X }\nbackbone unet { }\n"
    with pytest.raises(SpecValueError) as info:
        bs.parse(text)
    assert (info.value.span.line, info.value.span.column) == (3, 17)
    assert "let X" in info.value.hint


def test_end_of_file_errors_show_the_last_line() -> None:
    with pytest.raises(SpecValueError) as info:
        bs.parse(B + "\n\n")
    err = info.value
    assert (err.span.line, err.span.column) == (1, len(B.strip()) + 1)
    assert "^" in str(err)


@pytest.mark.parametrize("cell", ["C2(mixer=lin)", "T1(mixer=lin)", "L0(mixer=lin)",
                                  "L0(mixer_ratio=2.0)"])  # fmt: skip
def test_mixer_overrides_without_effect_are_refused(cell: str) -> None:
    text = B + f'cell {{ heads = 1 }}\nbackbone soanet {{ channels = 4, stages = ["{cell}"] }}\n'
    with pytest.raises(SpecValueError, match="no effect"):
        bs.parse(text)


def test_stem_keeps_maps_at_least_2() -> None:
    base = (
        "input { channels = 1, D = 1, H = %s, W = 64 }\nstem { patch = [4, 4, 1], channels = 4 }\n"
        'cell { heads = 1 }\nbackbone soanet { channels = 4, stages = ["C2"], '
        "downsample = false }\n"
    )
    assert bs.parse(base % "?").input.minimum[1] == 8
    with pytest.raises(ShapeError):
        bs.parse(base % "4")


def test_too_many_default_levels_point_at_the_input_size() -> None:
    text = 'input { channels = 1, D = 1, H = 2, W = 64 }\nbackbone unet { blocks = ["C2"] }\n'
    with pytest.raises(ShapeError) as info:
        bs.parse(text)
    assert (info.value.span.line, info.value.span.column) == (1, 34)


@pytest.mark.parametrize("overrides", [{"C": {"a": 1}}, {1: 2}, {"C": b"4"}])
def test_bad_override_types_are_spec_errors(overrides) -> None:
    text = "let C = 4\n" + B + 'backbone unet { channels = C, blocks = ["C2"] }\n'
    with pytest.raises(SpecValueError):
        bs.parse(text, overrides=overrides)


def test_overrides_are_shown_as_spec_text() -> None:
    text = "let W = [8, 8, 1]\n" + B + "cell { window = W }\nbackbone unet { }\n"
    with pytest.raises(SpecError) as info:
        bs.parse(text, overrides={"Q": [8, True]})
    assert "Q=[8, true]" in str(info.value)


def test_causal_norm_error_is_reported_once_per_place() -> None:
    text = (
        "input { channels = 1, D = 4, H = 8, W = 8 }\n"
        "cell { causal = true, heads = 1, norm = batch2d }\n"
        'backbone soanet { channels = 4, stages = ["T1T1T1"] }\n'
    )
    with pytest.raises(SpecValueError) as info:
        bs.parse(text)
    assert len(info.value.errors) == 1
