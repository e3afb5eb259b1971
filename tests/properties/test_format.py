"""Property 4: formatting keeps the AST, the IR and every comment, and is idempotent."""

from __future__ import annotations

from hypothesis import given

from blockspec.testing import SpecText, commented_specs, specs
from blockspec.testing.properties import check_format

from ._helpers import scaled


@scaled(1)
@given(specs())
def test_format_keeps_meaning(spec: SpecText) -> None:
    check_format(spec.text)


@scaled(0.5)
@given(specs(dynamic=True))
def test_format_keeps_meaning_dynamic(spec: SpecText) -> None:
    check_format(spec.text)


@scaled(1)
@given(commented_specs())
def test_format_keeps_comments(case: tuple[str, tuple[str, ...]]) -> None:
    text, comments = case
    check_format(text, comments)
