"""The error hierarchy of blockspec and the source span errors point at.

This module has no dependencies, so both the compiler and the runtime raise these errors.
A `SpecError` carries the place (`span`), what is wrong (`message`), how to fix it (`hint`)
and, when a pass collected several problems, all of them (`errors`, sorted by position).
`str(err)` renders like a compiler: ``file:line:col: error: ...``, the source line, a caret
under the span and the hint.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "Span",
    "SpecError",
    "SpecSyntaxError",
    "SpecValueError",
    "ShapeError",
    "BudgetError",
    "CheckpointError",
    "SpecWarning",
]


@dataclass(frozen=True, order=True)
class Span:
    """A place in a source text: 1-based line and column (in characters) and a length.

    `source` holds the whole text of the file when it is known, so an error can show the line.
    It takes no part in comparisons or hashing: two spans are equal when they point at the
    same place of the same file.
    """

    line: int
    column: int
    length: int = 1
    file: str = "<string>"
    source: str | None = None

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Span):
            return NotImplemented
        return (self.file, self.line, self.column, self.length) == (
            other.file,
            other.line,
            other.column,
            other.length,
        )

    def __hash__(self) -> int:
        return hash((self.file, self.line, self.column, self.length))

    def __repr__(self) -> str:
        return f"Span({self.file}:{self.line}:{self.column}+{self.length})"

    @property
    def key(self) -> tuple[str, int, int]:
        """Sort key: file, line, column."""
        return (self.file, self.line, self.column)


class SpecError(Exception):
    """Base class of every error a user can cause with a spec, a size or a file.

    `span` may be None for errors that have no place in a text (a checkpoint file, say).
    """

    kind = "error"

    def __init__(
        self,
        message: str,
        span: Span | None = None,
        hint: str | None = None,
        errors: list[SpecError] | None = None,
    ) -> None:
        self.message = message
        self.span = span
        self.hint = hint
        self.errors: list[SpecError] = list(errors) if errors else [self]
        super().__init__(message)

    def render(self, color: bool = False) -> str:
        """The error as a compiler prints it: place, message, source line, caret, hint."""
        red, bold, cyan, reset = (
            ("\033[31m", "\033[1m", "\033[36m", "\033[0m") if color else ("",) * 4
        )
        lines: list[str] = []
        if self.span is not None:
            head = f"{self.span.file}:{self.span.line}:{self.span.column}: "
        else:
            head = ""
        if self.kind == "warning":
            red = "\033[33m" if color else ""  # warnings in yellow
        label = f"{self.kind}:"
        lines.append(f"{bold}{head}{reset}{red}{bold}{label}{reset}{bold} {self.message}{reset}")
        if self.span is not None and self.span.source is not None:
            text_lines = self.span.source.splitlines() or [""]
            if 1 <= self.span.line <= len(text_lines):
                src = text_lines[self.span.line - 1].expandtabs(1)
                num = str(self.span.line)
                pad = " " * len(num)
                width = max(1, min(self.span.length, max(1, len(src) - self.span.column + 1)))
                lines.append(f" {num} | {src}")
                caret = " " * (self.span.column - 1) + "^" * width
                lines.append(f" {pad} | {cyan}{caret}{reset}")
        if self.hint:
            lines.append(f"{bold}hint:{reset} {self.hint}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.render()

    def __reduce__(self):  # keep errors picklable (multiprocessing, pytest-xdist)
        return (type(self), (self.message, self.span, self.hint))


class SpecSyntaxError(SpecError):
    """The text does not follow the grammar (including the block-string sub-language)."""


class SpecValueError(SpecError):
    """A value is of the wrong type, out of range, unknown, duplicated or missing."""


class ShapeError(SpecError):
    """Sizes do not fit: a window does not divide a map, too many levels, heads vs channels."""


class BudgetError(SpecError):
    """The network would exceed the parameter or activation-memory budget."""


class SpecWarning(SpecError):
    """Something legal that is probably not what was meant (a D-first window, attention over
    one frame, an unused `let`). Shown by `check` and `summary`, never fatal unless strict."""

    kind = "warning"


class CheckpointError(SpecError):
    """A checkpoint file is not a blockspec file, is damaged, or does not fit its spec."""
