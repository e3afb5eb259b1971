"""The abstract syntax tree: the spec as written, every node with the span it came from.

The Lark transformer in `builder.py` builds it while parsing. Nothing is evaluated here: `let`s,
defaults and block strings are resolved later (the passes of `pipeline.py`). Spans take no
part in equality, so two ASTs of the same text laid out differently compare equal.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import Span

__all__ = [
    "Expr", "IntLit", "FloatLit", "StrLit", "BoolLit", "NameRef", "Dynamic", "ListExpr",
    "BinOp", "Neg", "Entry", "Sub", "Section", "Let", "Comment", "Spec",
    "BCell", "Override", "BGroup", "BRepeat", "BlockString", "parse_spec", "parse_block_string",
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
    """A quoted string (a block string)."""

    value: str  # without the quotes
    span: Span = _span()  # the literal, quotes included


@dataclass(frozen=True)
class BoolLit(Expr):
    """``true`` / ``false``."""

    value: bool
    span: Span = _span()


@dataclass(frozen=True)
class NameRef(Expr):
    """A bare name: a `let`, or a value name such as ``layer``."""

    name: str
    span: Span = _span()


@dataclass(frozen=True)
class Dynamic(Expr):
    """The dynamic size ``?``."""

    span: Span = _span()


@dataclass(frozen=True)
class ListExpr(Expr):
    """``[a, b, ...]``."""

    items: tuple[Expr, ...]
    span: Span = _span()


@dataclass(frozen=True)
class BinOp(Expr):
    """``a OP b`` for + - * / // % **."""

    op: str
    left: Expr
    right: Expr
    span: Span = _span()  # the whole expression
    op_span: Span = _span()


@dataclass(frozen=True)
class Neg(Expr):
    """``-x``: unary minus, which binds tighter than ``*`` and looser than ``**`` (as in
    Python)."""

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
class Let(Entry):
    """``let NAME = value`` at the top level: an entry of the spec itself, whose key is the
    let's name."""

    @property
    def name(self) -> str:
        return self.key

    @property
    def name_span(self) -> Span:
        return self.key_span


@dataclass(frozen=True, slots=True)
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
class Override(Entry):
    """``key=literal`` inside ``L1(...)``: an entry of one cell (same fields as `Entry`)."""


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


# ----------------------------------------------------------------------------- parsing
def parse_spec(text: str, file: str = "<string>") -> Spec:
    """Parse a spec file's text into a `Spec` AST; raises `SpecSyntaxError`.

    A leading byte-order mark is skipped (editors on Windows write one)."""
    from .builder import parse_spec as parse

    return parse(text, file)


def parse_block_string(lit: StrLit) -> BlockString:
    """Parse the contents of a block-string literal; spans point into the literal's file."""
    from .builder import parse_block_string as parse

    return parse(lit)


def __getattr__(name: str):
    """`SpecBuilder` and `BlockStringBuilder` live in `builder` (imported on first use)."""
    if name in ("SpecBuilder", "BlockStringBuilder"):
        from . import builder

        return getattr(builder, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
