"""Property 1: any text parses or raises a SpecError located inside the text, in time."""

from __future__ import annotations

import functools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from blockspec.grammar import __file__ as grammar_init
from blockspec.testing import SpecText, mutated_texts, specs
from blockspec.testing.properties import check_parse_total

from ._helpers import scaled

_ALPHABET = st.sampled_from(
    list('{}[]()=,;#"?*-+/%. \n\t0123456789abcdeghilnprstuvwxyzCDHLGTSVW_') + ["é", "\r"]
)


@scaled(2)
@given(st.text(_ALPHABET, max_size=120))
def test_random_text(text: str) -> None:
    check_parse_total(text)


@scaled(1)
@given(st.text(max_size=60))
def test_random_unicode(text: str) -> None:
    check_parse_total(text)


@scaled(2)
@given(mutated_texts())
def test_mutated_specs(text: str) -> None:
    check_parse_total(text)


@functools.lru_cache(maxsize=1)
def _grammar_strategy():
    from pathlib import Path

    from hypothesis.extra.lark import from_lark
    from lark import Lark

    src = (Path(grammar_init).parent / "blockspec.lark").read_text()
    grammar = Lark(src, start="spec", parser="lalr", lexer="contextual")
    explicit = {
        "_NL": st.just("\n"),
        "WS": st.just(" "),
        "COMMENT": st.just("# c"),
    }
    return from_lark(grammar, start="spec", explicit=explicit)


def _grammar_or_skip():
    try:
        return _grammar_strategy()
    except Exception as exc:  # pragma: no cover - depends on the hypothesis/lark versions
        pytest.skip(f"from_lark cannot build the grammar: {exc}")


@scaled(2)
@given(st.data())
def test_grammar_texts(data) -> None:
    text = data.draw(_grammar_or_skip())
    check_parse_total(text)


_VALUES = st.one_of(
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.text(max_size=8),
    st.lists(st.integers(-3, 40), max_size=4),
    st.none(),
)


@scaled(1)
@given(specs(), st.dictionaries(st.sampled_from(["C", "X", "cell", "H", ""]), _VALUES, max_size=2))
def test_overrides(spec: SpecText, overrides: dict) -> None:
    check_parse_total(spec.text, overrides=overrides)
