"""Building the AST while parsing: the Lark transformer of both start rules, and the entry
points `parse_spec` / `parse_block_string` (re-exported by `blockspec.compiler.ast`).

The transformer runs at each LALR reduction, so no parse tree is kept; spans are made by the
`_SpanMaker` of the text being parsed, found through a context variable.
"""

from __future__ import annotations

import contextvars
import re
from functools import lru_cache
from itertools import islice

from lark import Token, v_args
from lark.visitors import Transformer_NonRecursive as Transformer

from ..errors import Span
from .ast import (
    BCell,
    BGroup,
    BinOp,
    BlockString,
    BoolLit,
    BRepeat,
    Comment,
    Dynamic,
    Entry,
    Expr,
    FloatLit,
    IntLit,
    Let,
    ListExpr,
    NameRef,
    Neg,
    Override,
    Section,
    Spec,
    StrLit,
    Sub,
)

__all__ = ["SpecBuilder", "BlockStringBuilder", "parse_spec", "parse_block_string"]


# ----------------------------------------------------------------------------- builders
class _SpanMaker:
    """Turns Lark positions into file spans; `line0`/`col0` shift text parsed out of a string."""

    def __init__(self, file: str, source: str, line0: int = 0, col0: int = 0) -> None:
        self.file, self.source, self.line0, self.col0 = file, source, line0, col0

    def at(self, line: int, column: int, length: int) -> Span:
        if line == 1:
            column += self.col0
        return Span(line + self.line0, column, max(1, length), self.file, self.source)

    def token(self, tok: Token) -> Span:
        return self.at(tok.line, tok.column, len(tok))

    def between(self, first: Token, last: Token) -> Span:
        """From `first` to the end of `last` when both are on one line, else `first` alone."""
        if first.line == last.line:
            return self.at(first.line, first.column, last.column + len(last) - first.column)
        return self.token(first)


@v_args(inline=True)
class _ExprBuilder(Transformer):
    """Shared expression rules for spec files."""

    def __init__(self, spans: _SpanMaker) -> None:
        super().__init__()
        self.s = spans

    def int_lit(self, tok: Token) -> IntLit:
        return IntLit(int(tok) if len(tok) <= 19 else -1, str(tok), self.s.token(tok))

    def float_lit(self, tok: Token) -> FloatLit:
        return FloatLit(float(tok), str(tok), self.s.token(tok))

    def str_lit(self, tok: Token) -> StrLit:
        return StrLit(str(tok)[1:-1], self.s.token(tok))

    def true_lit(self, tok: Token) -> BoolLit:
        return BoolLit(True, self.s.token(tok))

    def false_lit(self, tok: Token) -> BoolLit:
        return BoolLit(False, self.s.token(tok))

    def name(self, tok: Token) -> NameRef:
        return NameRef(str(tok), self.s.token(tok))

    def dynamic(self, tok: Token) -> Dynamic:
        return Dynamic(self.s.token(tok))

    def atom(self, lpar: Token, expr: Expr, rpar: Token) -> Expr:
        return expr  # parentheses only group

    def list(self, lsqb: Token, *rest) -> ListExpr:
        items = tuple(x for x in rest[:-1] if isinstance(x, Expr))
        return ListExpr(items, self.s.between(lsqb, rest[-1]))

    def binop(self, left: Expr, op: Token, right: Expr) -> BinOp:
        ls, rs = left.span, right.span
        if ls.line == rs.line and rs.column + rs.length >= ls.column:
            whole = Span(ls.line, ls.column, rs.column + rs.length - ls.column, ls.file, ls.source)
        else:
            whole = ls
        return BinOp(str(op), left, right, whole, self.s.token(op))

    def neg(self, minus: Token, operand: Expr) -> Neg:
        sp = self.s.token(minus)
        os_ = operand.span
        if os_.line == sp.line:
            sp = Span(sp.line, sp.column, os_.column + os_.length - sp.column, sp.file, sp.source)
        return Neg(operand, sp)


class SpecBuilder(_ExprBuilder):
    """Parse tree of a whole spec file -> `Spec` (without comments: the caller adds them)."""

    @v_args(inline=True)
    def let_stmt(self, let: Token, name: Token, value: Expr) -> Let:
        return Let(str(name), value, self.s.token(let), self.s.token(name))

    @v_args(inline=True)
    def entry(self, key: Token, value: Expr) -> Entry:
        ks = self.s.token(key)
        return Entry(str(key), value, ks, ks)

    @v_args(inline=False)
    def body(self, children: list) -> tuple[tuple, Span]:
        close = children[-1]
        items = tuple(c for c in children[1:-1] if isinstance(c, (Entry, Sub)))
        return items, self.s.token(close)

    @v_args(inline=True)
    def sub(self, kind: Token, index: Token, body: tuple) -> Sub:
        items, close = body
        idx = int(index) if len(index) <= 19 else -1
        return Sub(
            str(kind), idx, items, self.s.token(kind), self.s.token(index), close, str(index)
        )

    @v_args(inline=True)
    def plain_section(self, kind: Token, body: tuple) -> Section:
        items, close = body
        return Section(str(kind), None, items, self.s.token(kind), None, close)

    @v_args(inline=True)
    def named_section(self, kind: Token, name: Token, body: tuple) -> Section:
        items, close = body
        return Section(str(kind), str(name), items, self.s.token(kind), self.s.token(name), close)

    @v_args(inline=False)
    def spec(self, children: list) -> tuple:
        return tuple(c for c in children if isinstance(c, (Let, Section)))


class BlockStringBuilder(Transformer):
    """Parse tree of a block string's contents -> items of a `BlockString`."""

    def __init__(self, spans: _SpanMaker) -> None:
        super().__init__()
        self.s = spans

    @v_args(inline=True)
    def bare_cell(self, code: Token) -> BCell:
        return BCell(str(code), (), self.s.token(code))

    @v_args(inline=False)
    def override_cell(self, children: list) -> BCell:
        code_open = children[0]
        overrides = tuple(c for c in children[1:] if isinstance(c, Override))
        sp = self.s.at(code_open.line, code_open.column, 2)
        return BCell(str(code_open)[:2], overrides, sp)

    @v_args(inline=True)
    def override(self, key: Token, value: Expr) -> Override:
        ks = self.s.token(key)
        return Override(str(key), value, ks, ks)

    @v_args(inline=True)
    def number_lit(self, tok: Token) -> Expr:
        text = str(tok)
        sp = self.s.token(tok)
        if any(ch in text for ch in ".eE"):
            return FloatLit(float(text), text, sp)
        digits = text.lstrip("+-")
        value = int(text) if len(digits) <= 19 else -1
        return IntLit(value, text, sp)

    @v_args(inline=True)
    def true_lit(self, tok: Token) -> BoolLit:
        return BoolLit(True, self.s.token(tok))

    @v_args(inline=True)
    def false_lit(self, tok: Token) -> BoolLit:
        return BoolLit(False, self.s.token(tok))

    @v_args(inline=True)
    def name(self, tok: Token) -> NameRef:
        return NameRef(str(tok), self.s.token(tok))

    @v_args(inline=False)
    def literal_list(self, children: list) -> ListExpr:
        items = tuple(c for c in children if isinstance(c, Expr))
        return ListExpr(items, self.s.between(children[0], children[-1]))

    @v_args(inline=False)
    def group(self, children: list) -> BGroup:
        items = tuple(c for c in children[1:-1] if isinstance(c, (BCell, BGroup, BRepeat)))
        return BGroup(items, self.s.token(children[0]))

    @v_args(inline=True)
    def repeat(self, item, star: Token, count: Token) -> BRepeat:
        n = int(count) if len(count) <= 19 else -1
        return BRepeat(item, n, self.s.token(star), self.s.token(count), str(count))

    @v_args(inline=False)
    def block_string(self, children: list) -> tuple:
        return tuple(children)


# ----------------------------------------------------------------------------- entry points
_SPANS: contextvars.ContextVar[_SpanMaker] = contextvars.ContextVar("blockspec_spans")


class _Reductions(SpecBuilder):
    """Both builders' rules as one transformer that Lark runs at each reduction: the AST is
    built while parsing and no parse tree is kept (memory linear and small in the input).
    The span maker of the text being parsed comes from a context variable."""

    def __init__(self) -> None:
        Transformer.__init__(self)

    @property
    def s(self) -> _SpanMaker:  # type: ignore[override]
        return _SPANS.get()

    bare_cell = BlockStringBuilder.bare_cell
    override_cell = BlockStringBuilder.override_cell
    override = BlockStringBuilder.override
    number_lit = BlockStringBuilder.number_lit
    literal_list = BlockStringBuilder.literal_list
    group = BlockStringBuilder.group
    repeat = BlockStringBuilder.repeat
    block_string = BlockStringBuilder.block_string


@lru_cache(maxsize=1)
def _ast_parser():
    from ..grammar import make_parser

    return make_parser(_Reductions())


def _parse(text: str, start: str, spans: _SpanMaker) -> tuple[tuple, list]:
    from ..grammar import parse_with

    token = _SPANS.set(spans)
    try:
        return parse_with(_ast_parser(), text, start)
    finally:
        _SPANS.reset(token)


def _strip_bom(text: str) -> tuple[str, int]:
    """`text` without a leading UTF-8 byte-order mark, and how many characters were removed."""
    return (text[1:], 1) if text.startswith("\ufeff") else (text, 0)


def _own_line(text: str, pos: int) -> bool:
    """Whether only blanks precede offset `pos` on its line."""
    return not text[text.rfind("\n", 0, pos) + 1 : pos].strip()


def parse_spec(text: str, file: str = "<string>") -> Spec:
    """Parse a spec file's text into a `Spec` AST; raises `SpecSyntaxError`.

    A leading byte-order mark is skipped (editors on Windows write one)."""
    from lark.exceptions import UnexpectedInput

    from .diagnostics import end_position, from_lark

    text, _ = _strip_bom(text)
    spans = _SpanMaker(file, text)
    try:
        statements, comment_tokens = _parse(text, "spec", spans)
    except UnexpectedInput as exc:
        raise from_lark(exc, spans.at, text, in_block_string=False) from None
    comments = tuple(
        Comment(body.rstrip(), line, column, _own_line(text, pos))
        for body, line, column, pos in comment_tokens
    )
    end = Span(*end_position(text), 1, file, text)
    return Spec(tuple(statements), comments, file, text, end)


_CODE = re.compile(r"[A-Z][A-Za-z0-9]")


def _check_written_cells(text: str, span: Span) -> None:
    """Refuse, before parsing, a block string that writes more codes than a network may hold
    cells (each written code is at least one cell): a long string costs no parser time."""
    from ..errors import SpecValueError
    from ..language import MAX_CELLS

    if next(islice(_CODE.finditer(text), MAX_CELLS, None), None) is not None:
        raise SpecValueError(
            f"the block string writes more than {MAX_CELLS} cells",
            span,
            f"a network has at most {MAX_CELLS} cells; repeat a group instead, e.g. (S3Sh)*2",
        )


def parse_block_string(lit: StrLit) -> BlockString:
    """Parse the contents of a block-string literal; spans point into the literal's file."""
    from lark.exceptions import UnexpectedInput

    from .diagnostics import from_lark

    text = lit.value
    sp = lit.span
    # the contents start one column after the opening quote
    spans = _SpanMaker(sp.file, sp.source or "", line0=sp.line - 1, col0=sp.column)
    _check_written_cells(text, sp)
    try:
        items, _ = _parse(text, "block_string", spans)
    except UnexpectedInput as exc:
        raise from_lark(exc, spans.at, text, in_block_string=True) from None
    return BlockString(tuple(items), text, sp)
