"""A missing '}' is reported at the '{' left open, with its line; a leading BOM is skipped."""

from __future__ import annotations

import pytest

import blockspec as bs
from blockspec.compiler import ast as A
from blockspec.errors import SpecSyntaxError

INPUT = "input { channels = 1, D = 1, H = 32, W = 32 }"
CELL = "cell { window = [8, 8, 1], heads = 4 }"
UNET = 'backbone unet { channels = 8, levels = 2, blocks = ["L1"] }'


def error(text: str) -> SpecSyntaxError:
    with pytest.raises(SpecSyntaxError) as info:
        bs.parse(text)
    return info.value


def test_an_unclosed_section_is_named_not_the_next_line() -> None:
    err = error("input { channels = 1, D = 1, H = 32, W = 32\n" + UNET + "\n")
    assert (err.span.line, err.span.column) == (1, 7)  # the '{' of input
    assert "unclosed '{'" in err.message and "'input'" in err.message and "line 1" in err.message
    assert "unet" not in err.message
    assert "'backbone' on line 2" in err.hint


def test_an_unclosed_section_at_the_end_of_the_file() -> None:
    err = error(INPUT + "\n" + UNET[:-2] + "\n\n")
    assert (err.span.line, err.span.column) == (2, 15)
    assert "'backbone unet'" in err.message and "line 2" in err.message
    assert "end of the spec" in err.hint


def test_a_let_after_an_unclosed_section() -> None:
    err = error("cell { heads = 4\nlet C = 3\n" + INPUT + "\n" + UNET + "\n")
    assert (err.span.line, err.span.column) == (1, 6)
    assert "'cell'" in err.message


def test_an_unclosed_level_inside_a_backbone_is_found_by_indentation() -> None:
    text = (
        INPUT + "\n"
        "backbone unet {\n"
        "  channels = 8\n"
        "  level 1 { heads = 2\n"
        "  levels = 2\n"
        '  blocks = ["L1"]\n'
        "}\n"
        "head conv { out_channels = 1 }\n"
    )
    err = error(text)
    assert (err.span.line, err.span.column) == (4, 11)
    assert "'level 1'" in err.message and "line 4" in err.message
    assert "line 7" in err.hint


def test_braces_in_strings_and_comments_do_not_count() -> None:
    text = INPUT + '  # { not a brace\nlet B = "{"\nbackbone unet { blocks = [B]\n'
    err = error(text)
    assert (err.span.line, err.span.column) == (3, 15)


def test_another_mistake_before_the_open_brace_is_reported_as_itself() -> None:
    err = error("input { channels = 1 H = 32\n" + UNET + "\n")
    assert (err.span.line, err.span.column) == (1, 22)
    assert "unclosed" not in err.message


def test_an_extra_closing_brace_is_unmatched() -> None:
    err = error(INPUT + "}\n" + UNET + "\n")
    assert (err.span.line, err.span.column) == (1, len(INPUT) + 1)
    assert "unmatched '}'" in err.message


def test_a_leading_byte_order_mark_is_skipped() -> None:
    text = INPUT + "\n" + CELL + "\n" + UNET + "\n"
    with_bom = bs.parse("\ufeff" + text)
    assert with_bom == bs.parse(text)
    assert A.parse_spec("\ufeff" + text) == A.parse_spec(text)
    assert bs.format("\ufeff" + text) == bs.format(text)


def test_errors_after_a_bom_point_at_the_columns_the_user_sees() -> None:
    err = error("\ufeffinput { channels = 1, D = 1, H = 32, W = 32 }\ncell { heads 4 }\n" + UNET)
    assert (err.span.line, err.span.column) == (2, 14)
    assert "\ufeff" not in err.render()
