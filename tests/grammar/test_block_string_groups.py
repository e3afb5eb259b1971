"""A cell code written directly before a group (`L1(S3Sh)*2`) is a code and a group.

`L1(` starts an override only when a lowercase key follows; the hints of block-string errors
never suggest a new line (a block string is one line).
"""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, find, settings

import blockspec as bs
from blockspec.compiler import ast as A
from blockspec.errors import Span, SpecSyntaxError
from blockspec.testing.strategies import _GENERIC_OVERRIDES, ALL_CODES, _block


def items(text: str) -> tuple:
    return A.parse_block_string(A.StrLit(text, Span(1, 1, len(text) + 2))).items


@pytest.mark.parametrize("tight", ["L1(S3Sh)*2", "S3Sh(S3Sh)*1", "L1((S3)Sh)", "L1(heads=2)(C2)"])
def test_a_code_directly_before_a_group_parses_as_the_spaced_form(tight: str) -> None:
    spaced = tight.replace("(", " (", 1) if "heads" not in tight else "L1(heads=2) (C2)"
    assert items(tight) == items(spaced)


def test_the_group_after_a_code_is_a_group() -> None:
    got = items("L1(S3Sh)*2")
    assert got[0] == A.BCell("L1")
    assert got[1] == A.BRepeat(A.BGroup((A.BCell("S3"), A.BCell("Sh"))), 2)


def test_an_override_still_needs_a_lowercase_key() -> None:
    (cell,) = items("L1(heads=4)")
    assert cell.code == "L1" and [o.key for o in cell.overrides] == ["heads"]
    (cell,) = items("L1( heads=4)")
    assert [o.key for o in cell.overrides] == ["heads"]


def test_a_network_with_a_code_before_a_group_compiles_the_same_cells() -> None:
    text = (
        "input { channels = 1, D = 1, H = 16, W = 16 }\n"
        "cell { window = [4, 4, 1], heads = 1 }\n"
        'backbone soanet { channels = 4, stages = ["%s"] }\n'
    )
    tight = bs.parse(text % "L1(S3Sh)*2")
    spaced = bs.parse(text % "L1 (S3Sh)*2")
    codes = [c.config.code for c in tight.cells()]
    assert codes == ["L1", "S3", "Sh", "S3", "Sh"]
    assert codes == [c.config.code for c in spaced.cells()]


@pytest.mark.parametrize(
    "text",
    [
        "L1(heads 4)",
        "L1()",
        "()",
        "L1)",
        "L1(Heads=4)",
        "L1 heads",
        "L1*",
        "(L1",
        "L1(window=[8 8])",
        "L1 & G1",
        "L1(heads=4;)",
    ],
)
def test_block_string_hints_never_mention_new_lines(text: str) -> None:
    with pytest.raises(SpecSyntaxError) as info:
        items(text)
    said = f"{info.value.message} {info.value.hint}"
    assert "new line" not in said, said


def test_mistakes_inside_parentheses_are_named() -> None:
    with pytest.raises(SpecSyntaxError) as info:
        items("L1()")
    assert "empty parentheses" in info.value.message
    with pytest.raises(SpecSyntaxError) as info:
        items("L1(Heads=4)")
    assert "'Heads' is not a cell code" in info.value.message
    assert "lowercase" in info.value.hint
    assert info.value.span.column == 5  # H, after the quote and `L1(`
    with pytest.raises(SpecSyntaxError) as info:
        items("S3Sh)")
    assert "unmatched ')'" in info.value.message
    for text in ("L1(heads=[4,)", "L1(heads=4,)", "(L1(heads=4,))"):  # each ')' has its '('
        with pytest.raises(SpecSyntaxError) as info:
            items(text)
        assert "unmatched" not in info.value.message, text


def test_the_fuzz_strategy_writes_a_code_directly_before_a_group() -> None:
    tight = re.compile(r"[A-Z][A-Za-z0-9]\(+[A-Z]")
    found = find(
        _block(2, 6, ALL_CODES, _GENERIC_OVERRIDES),
        lambda case: bool(tight.search(case[0])),
        settings=settings(
            max_examples=2000,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        ),
    )
    assert tight.search(found[0])
