"""The parser and the printer are linear in the input: memory measured with tracemalloc, work
counted in executed lines (never in wall-clock time)."""

from __future__ import annotations

import sys
import tracemalloc

import pytest

import blockspec as bs
from blockspec.compiler import ast as A
from blockspec.compiler.printer import format_spec
from blockspec.errors import Span, SpecValueError

SIZE = 100_000  # characters per hostile input


def peak_bytes(fn, *args) -> int:
    fn(*args)  # warm: the parser is built once per process
    tracemalloc.start()
    try:
        fn(*args)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def lets(size: int) -> str:
    out, n, i = [], 0, 0
    while n < size:
        line = f"let a{i} = {i}\n"
        out.append(line)
        n, i = n + len(line), i + 1
    return "".join(out)


@pytest.mark.parametrize(
    ("name", "text", "per_char"),
    [
        ("newlines", "\n" * SIZE, 8),  # was 355 bytes a character
        ("crlf", "\r\n" * (SIZE // 2), 8),
        ("blank lines with spaces", "  \n" * (SIZE // 3), 8),
        ("semicolons", ";" * SIZE, 8),
        ("lets", lets(SIZE), 80),  # was 172
        ("comment lines", "# c\n" * (SIZE // 4), 100),  # was 151
    ],
)
def test_parser_memory_is_linear_and_small(name: str, text: str, per_char: int) -> None:
    assert peak_bytes(A.parse_spec, text) < per_char * len(text) + 256_000


def test_a_block_string_longer_than_a_network_is_refused_before_parsing() -> None:
    text = "L1" * 50_000
    lit = A.StrLit(text, Span(1, 1, len(text) + 2))
    with pytest.raises(SpecValueError) as info:
        A.parse_block_string(lit)
    assert "4096" in info.value.message
    tracemalloc.start()
    try:
        with pytest.raises(SpecValueError):
            A.parse_block_string(lit)
        assert tracemalloc.get_traced_memory()[1] < 256_000
    finally:
        tracemalloc.stop()


def test_a_long_block_string_in_a_spec_is_a_spec_error() -> None:
    text = (
        "input { channels = 1, D = 1, H = 8, W = 8 }\n"
        f'backbone soanet {{ channels = 4, stages = ["{"C2" * 50_000}"] }}\n'
    )
    with pytest.raises(SpecValueError):
        bs.parse(text)


def executed_lines(fn, *args) -> int:
    """How many lines of Python `fn(*args)` executes (loops count each iteration)."""
    count = 0

    def tracer(frame, event, arg):
        nonlocal count
        if event == "line":
            count += 1
        return tracer

    fn(*args)  # warm
    sys.settrace(tracer)
    try:
        fn(*args)
    finally:
        sys.settrace(None)
    return count


def commented(n: int) -> str:
    return "".join(f"# about a{i}\nlet a{i} = {i}  # trailing {i}\n" for i in range(n))


def growth(fn, small: int) -> float:
    """Executed lines for 4x the commented lets over those for `small` of them."""
    return executed_lines(fn, commented(4 * small)) / executed_lines(fn, commented(small))


def test_format_is_linear_in_comments_and_statements() -> None:
    spec_small, spec_big = A.parse_spec(commented(300)), A.parse_spec(commented(1200))
    ratio = executed_lines(format_spec, spec_big) / executed_lines(format_spec, spec_small)
    assert ratio < 5, ratio  # 4x the input: linear is ~4, the old attachment was ~16


def test_parse_is_linear_in_comments_and_statements() -> None:
    assert growth(A.parse_spec, 300) < 5
    calls = iter(range(10))
    tail = (
        "input { channels = 1, D = 1, H = 8, W = 8 }\n"
        'backbone soanet { channels = 4, stages = ["C2"] }\n'
    )

    def parse(text: str) -> None:  # a new text each call: bs.parse caches by text
        bs.parse(f"{text}{tail}# call {next(calls)}\n")

    assert growth(parse, 300) < 5


def test_format_keeps_every_comment_in_place() -> None:
    text = commented(3)
    assert format_spec(A.parse_spec(text)) == text
