"""The blockspec grammar: one LALR Lark grammar (``blockspec.lark``), built once and cached.

`parse_tree(text)` parses a whole spec file; `parse_tree(text, start="block_string")` parses
the inside of a block-string literal. Both return Lark trees and let Lark's exceptions through;
`blockspec.compiler.diagnostics` turns those into `SpecSyntaxError`s with a span.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from functools import lru_cache
from importlib import resources

from lark import Lark, Token, Tree

__all__ = ["grammar_text", "parser", "parse_tree"]

_comments: contextvars.ContextVar[list[Token] | None] = contextvars.ContextVar(
    "blockspec_comments", default=None
)


def _collect_comment(token: Token) -> Token:
    sink = _comments.get()
    if sink is not None:
        sink.append(token)
    return token


class _BracketNewlines:
    """Post-lexer: newlines inside ``( )`` and ``[ ]`` are not separators, so drop them."""

    always_accept = ("_NL",)

    def process(self, stream: Iterator[Token]) -> Iterator[Token]:
        depth = 0
        for tok in stream:
            kind = tok.type
            if kind == "_NL":
                if depth == 0:
                    yield tok
                continue
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


@lru_cache(maxsize=1)
def parser() -> Lark:
    """The Lark parser (LALR, contextual lexer, positions kept), built once per process."""
    return Lark(
        grammar_text(),
        parser="lalr",
        lexer="contextual",
        start=["spec", "block_string"],
        postlex=_BracketNewlines(),
        propagate_positions=True,
        maybe_placeholders=True,
        lexer_callbacks={"COMMENT": _collect_comment},
    )


def parse_tree(text: str, start: str = "spec") -> tuple[Tree, list[Token]]:
    """Parse `text` from rule `start`; return the tree and the comment tokens, in order."""
    sink: list[Token] = []
    token = _comments.set(sink)
    try:
        tree = parser().parse(text, start=start)
    finally:
        _comments.reset(token)
    return tree, sink
