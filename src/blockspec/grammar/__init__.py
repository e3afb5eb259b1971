"""The blockspec grammar: one LALR Lark grammar (``blockspec.lark``), built once and cached.

`parse_tree(text)` parses a whole spec file; `parse_tree(text, start="block_string")` parses
the inside of a block-string literal. Both return Lark trees (for tools and tests) and let
Lark's exceptions through; `blockspec.compiler.diagnostics` turns those into
`SpecSyntaxError`s with a span. The compiler itself parses with `make_parser(transformer)` and
`parse_with`, which build the AST during the parse and keep no tree (linear, small memory).
"""

from __future__ import annotations

import contextvars
import os
from collections.abc import Iterator
from functools import lru_cache
from importlib import resources
from typing import Any

from lark import Lark, Token, Transformer, Tree

__all__ = ["grammar_text", "make_parser", "parse_with", "parser", "parse_tree"]

#: a comment as (text, line, column, offset): lighter than keeping its token
CommentAt = tuple[str, int, int, int]

_comments: contextvars.ContextVar[list[CommentAt] | None] = contextvars.ContextVar(
    "blockspec_comments", default=None
)


def _collect_comment(token: Token) -> Token:
    sink = _comments.get()
    if sink is not None:
        sink.append((str(token), token.line, token.column, token.start_pos))
    return token


_SEPARATORS = ("_NL", "SEMICOLON")


class _BracketNewlines:
    """Post-lexer: newlines inside ``( )`` and ``[ ]`` are not separators, so drop them; a run
    of separators (new lines and ``;``, blank lines and comments between them) is passed on as
    its first token, so blank lines cost the parser nothing."""

    always_accept = ("_NL",)

    def process(self, stream: Iterator[Token]) -> Iterator[Token]:
        depth = 0
        after_separator = False
        for tok in stream:
            kind = tok.type
            if kind in _SEPARATORS:
                if (kind == "_NL" and depth) or after_separator:
                    continue  # every rule that takes one separator takes a run of them
                after_separator = depth == 0
                yield tok
                continue
            after_separator = False
            if kind in ("LPAR", "LSQB", "CODE_OPEN"):
                depth += 1
            elif kind in ("RPAR", "RSQB") and depth > 0:
                depth -= 1
            elif kind in ("LBRACE", "RBRACE"):
                depth = 0  # a brace never sits inside brackets; resynchronise after an error
            yield tok


def grammar_text() -> str:
    """The text of ``blockspec.lark``."""
    return resources.files(__package__).joinpath("blockspec.lark").read_text(encoding="utf-8")


def _common() -> dict:
    """The options every blockspec parser shares (LALR, contextual lexer, both start rules)."""
    return {
        "parser": "lalr",
        "lexer": "contextual",
        "start": ["spec", "block_string"],
        "postlex": _BracketNewlines(),
        "maybe_placeholders": True,
        "lexer_callbacks": {"COMMENT": _collect_comment},
    }


@lru_cache(maxsize=1)
def parser() -> Lark:
    """The tree-building Lark parser (positions kept), built once per process: for tools and
    tests that want Lark's tree; the compiler uses `make_parser`."""
    return Lark(grammar_text(), propagate_positions=True, **_common())


def make_parser(transformer: Transformer) -> Lark:
    """A Lark parser whose `transformer` runs at each reduction (LALR), so no parse tree is
    built: memory stays proportional to the result, not to the tokens. Tokens keep their
    positions; trees carry none. The analysed grammar is cached (`_cache_file`)."""
    return Lark(grammar_text(), transformer=transformer, cache=_cache_file(), **_common())


def _cache_file() -> str | bool:
    """Where Lark keeps the analysed grammar between processes (the user's cache folder), so a
    command starts in milliseconds instead of rebuilding the LALR tables. Lark checks the
    grammar's and options' SHA-256 stored in the file and rebuilds when they differ; without
    a writable cache folder nothing is cached."""
    import sys

    from lark import __version__ as lark_version

    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    folder = os.path.join(base, "blockspec")
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError:
        return False
    if not os.access(folder, os.W_OK):
        return False
    py = f"{sys.version_info[0]}{sys.version_info[1]}"
    return os.path.join(folder, f"grammar-lark{lark_version}-py{py}.lark")


def parse_with(lark: Lark, text: str, start: str = "spec") -> tuple[Any, list[CommentAt]]:
    """Parse `text` with a parser from `make_parser`; return its result and the comments."""
    sink: list[CommentAt] = []
    token = _comments.set(sink)
    try:
        result = lark.parse(text, start=start)
    finally:
        _comments.reset(token)
    return result, sink


def parse_tree(text: str, start: str = "spec") -> tuple[Tree, list[CommentAt]]:
    """Parse `text` from rule `start`; return the tree and the comments, in order."""
    sink: list[CommentAt] = []
    token = _comments.set(sink)
    try:
        tree = parser().parse(text, start=start)
    finally:
        _comments.reset(token)
    return tree, sink
