"""The grammar file itself: one LALR grammar without conflicts, with both start rules."""

from __future__ import annotations

import pytest
from lark import Lark

from blockspec.grammar import grammar_text, parse_tree


def test_grammar_builds_with_strict_lalr() -> None:
    pytest.importorskip("interegular")  # strict mode needs it to check terminal collisions
    Lark(grammar_text(), parser="lalr", lexer="contextual", strict=True,
         start=["spec", "block_string"])  # fmt: skip


def test_newlines_inside_brackets_are_not_separators() -> None:
    tree, comments = parse_tree("cell {\n  window = [8,\n 8, 1]  # w\n}\n")
    assert tree.data == "spec"
    assert [c[0] for c in comments] == ["# w"]


def test_block_string_start_rule() -> None:
    tree, _ = parse_tree("T1 L1(heads=4) (S3Sh)*3", start="block_string")
    kinds = [c.data for c in tree.children]
    assert kinds == ["bare_cell", "override_cell", "repeat"]
