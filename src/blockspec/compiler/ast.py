"""The abstract syntax tree: the spec as written, every node with the span it came from.

One Lark `Transformer` builds it from the parse tree. Nothing is evaluated here: `let`s,
defaults and block strings are resolved later (`resolve.py`). Spans take no part in equality,
so two ASTs of the same text laid out differently compare equal.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lark import Token, v_args
from lark.visitors import Transformer_NonRecursive as Transformer

from ..errors import Span

__all__ = [
    "Expr", "IntLit", "FloatLit", "StrLit", "BoolLit", "NameRef", "Dynamic", "ListExpr",
    "BinOp", "Neg", "Entry", "Sub", "Section", "Let", "Comment", "Spec",
    "BCell", "Override", "BGroup", "BRepeat", "BlockString", "SpecBuilder", "BlockStringBuilder",
]  # fmt: skip


def _span() -> Span:
    return field(default=Span(1, 1), compare=False, repr=False)


# ----------------------------------------------------------------------------- expressions
@dataclass(frozen=True)
class Expr:
    """Base of expression nodes."""


@dataclass(frozen=True)
class IntLit(Expr):
    value: int
    text: str
    span: Span = _span()


@dataclass(frozen=True)
class FloatLit(Expr):
    value: float
    text: str
    span: Span = _span()


@dataclass(frozen=True)
class StrLit(Expr):
    value: str  # without the quotes
    span: Span = _span()  # the literal, quotes included


@dataclass(frozen=True)
class BoolLit(Expr):
    value: bool
    span: Span = _span()


@dataclass(frozen=True)
class NameRef(Expr):
    name: str
    span: Span = _span()


@dataclass(frozen=True)
class Dynamic(Expr):
    """The dynamic size ``?``."""

    span: Span = _span()


@dataclass(frozen=True)
class ListExpr(Expr):
    items: tuple[Expr, ...]
    span: Span = _span()


@dataclass(frozen=True)
class BinOp(Expr):
    op: str
    left: Expr
    right: Expr
    span: Span = _span()  # the whole expression
    op_span: Span = _span()


@dataclass(frozen=True)
class Neg(Expr):
    operand: Expr
    span: Span = _span()


# ----------------------------------------------------------------------------- statements
@dataclass(frozen=True)
class Entry:
    """``key = value`` inside a section or a ``level``/``stage`` entry."""

    key: str
    value: Expr
    span: Span = _span()
    key_span: Span = _span()


@dataclass(frozen=True)
class Sub:
    """``level N { ... }`` or ``stage N { ... }`` inside a backbone."""

    kind: str
    index: int
    items: tuple[Entry, ...]
    span: Span = _span()
    index_span: Span = _span()
    close_span: Span = _span()
    index_text: str = field(default="", compare=False)


@dataclass(frozen=True)
class Section:
    """``input { }``, ``cell { }``, ``stem { }``, ``backbone NAME { }``, ``head NAME { }``."""

    kind: str
    name: str | None
    items: tuple[Entry | Sub, ...]
    span: Span = _span()  # the section keyword
    name_span: Span | None = field(default=None, compare=False, repr=False)
    close_span: Span = _span()


@dataclass(frozen=True)
class Let:
    name: str
    value: Expr
    span: Span = _span()
    name_span: Span = _span()


@dataclass(frozen=True)
class Comment:
    text: str  # including the leading '#'
    line: int
    column: int
    own_line: bool  # nothing but blanks before it on its line


@dataclass(frozen=True)
class Spec:
    statements: tuple[Let | Section, ...]
    comments: tuple[Comment, ...] = field(default=(), compare=False)
    file: str = field(default="<string>", compare=False)
    source: str = field(default="", compare=False, repr=False)
    end_span: Span = _span()  # the end of the file, for "missing section" errors


# ----------------------------------------------------------------------------- block strings
@dataclass(frozen=True)
class Override:
    """``key=literal`` inside ``L1(...)``."""

    key: str
    value: Expr
    span: Span = _span()
    key_span: Span = _span()


@dataclass(frozen=True)
class BCell:
    code: str
    overrides: tuple[Override, ...] = ()
    span: Span = _span()  # the two characters of the code


@dataclass(frozen=True)
class BGroup:
    items: tuple[BCell | BGroup | BRepeat, ...]
    span: Span = _span()  # the opening parenthesis


@dataclass(frozen=True)
class BRepeat:
    item: BCell | BGroup
    count: int
    span: Span = _span()  # the '*'
    count_span: Span = _span()
    count_text: str = field(default="", compare=False)


@dataclass(frozen=True)
class BlockString:
    items: tuple[BCell | BGroup | BRepeat, ...]
    text: str
    span: Span = _span()  # the literal in the file


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
def parse_spec(text: str, file: str = "<string>") -> Spec:
    """Parse a spec file's text into a `Spec` AST; raises `SpecSyntaxError`."""
    from lark.exceptions import UnexpectedInput, VisitError

    from ..grammar import parse_tree
    from .diagnostics import end_position, from_lark

    spans = _SpanMaker(file, text)
    try:
        tree, comment_tokens = parse_tree(text, "spec")
    except UnexpectedInput as exc:
        raise from_lark(exc, spans.at, text, in_block_string=False) from None
    try:
        statements = SpecBuilder(spans).transform(tree)
    except VisitError as exc:  # a builder bug, not a user error: surface the real cause
        raise exc.orig_exc from None
    lines = text.split("\n")
    comments = tuple(
        Comment(
            str(t).rstrip(),
            t.line,
            t.column,
            not lines[t.line - 1][: t.column - 1].strip(),
        )
        for t in comment_tokens
    )
    end = Span(*end_position(text), 1, file, text)
    return Spec(tuple(statements), comments, file, text, end)


def parse_block_string(lit: StrLit) -> BlockString:
    """Parse the contents of a block-string literal; spans point into the literal's file."""
    from lark.exceptions import UnexpectedInput, VisitError

    from ..grammar import parse_tree
    from .diagnostics import from_lark

    text = lit.value
    sp = lit.span
    # the contents start one column after the opening quote
    spans = _SpanMaker(sp.file, sp.source or "", line0=sp.line - 1, col0=sp.column)
    try:
        tree, _ = parse_tree(text, "block_string")
    except UnexpectedInput as exc:
        raise from_lark(exc, spans.at, text, in_block_string=True) from None
    try:
        items = BlockStringBuilder(spans).transform(tree)
    except VisitError as exc:
        raise exc.orig_exc from None
    return BlockString(tuple(items), text, sp)
