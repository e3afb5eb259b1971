"""Turning problems into `SpecError`s a user can act on.

Lark's `UnexpectedInput` becomes a `SpecSyntaxError` at the offending character, with the
expected tokens said in words. `raise_all` raises the errors a phase of passes collected, all
at once, sorted by position. `did_you_mean` suggests the nearest name.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable

from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from ..errors import SpecError, SpecSyntaxError
from ..language import CODES

__all__ = [
    "Consequence", "did_you_mean", "divisors", "from_lark", "raise_all", "sort_errors"
]  # fmt: skip

#: terminal names of the grammar, in words
_WORDS = {
    "NAME": "a name",
    "INT": "an integer",
    "FLOAT": "a number",
    "STRING": 'a string ("...")',
    "TRUE": "true",
    "FALSE": "false",
    "QMARK": "'?'",
    "LET": "'let'",
    "SECTION": "a section (input, cell, stem, backbone, head)",
    "SUB": "'level N { ... }' or 'stage N { ... }'",
    "LBRACE": "'{'",
    "RBRACE": "'}'",
    "LPAR": "'('",
    "RPAR": "')'",
    "LSQB": "'['",
    "RSQB": "']'",
    "EQUAL": "'='",
    "COMMA": "','",
    "SEMICOLON": "';'",
    "_NL": "a new line",
    "PLUS": "'+'",
    "MINUS": "'-'",
    "STAR": "'*'",
    "SLASH": "'/'",
    "DSLASH": "'//'",
    "PERCENT": "'%'",
    "POW": "'**'",
    "CODE": "a cell code (L1, G1, T1, S3, Sh, V2, C2, ...)",
    "CODE_OPEN": "a cell code with overrides, e.g. L1(heads=4)",
    "SIGNED_NUMBER": "a number",
    "$END": "the end of the text",
}

_ORDER = list(_WORDS)
_CODE_LIST = " ".join(CODES)


def end_position(text: str) -> tuple[int, int]:
    """(line, column) just after the last non-blank character: where "missing ..." and
    "unexpected end" errors point, on a line that can be shown."""
    kept = text.rstrip()  # without copying the text line by line
    if not kept:
        return 1, 1
    start = kept.rfind("\n") + 1
    return kept.count("\n") + 1, len(kept) - start + 1


def _before(text: str, tok) -> str:
    """The character just before token `tok` in `text` ('' at the start)."""
    pos = tok.start_pos
    return text[pos - 1] if pos and pos <= len(text) else ""


def _word_at(text: str, pos: int) -> str:
    """The run of letters and digits around `pos` (for naming a mistyped code)."""
    start, end = pos, pos
    while start > 0 and text[start - 1].isalnum():
        start -= 1
    while end < len(text) and text[end].isalnum():
        end += 1
    return text[start:end]


def _words(expected: Iterable[str]) -> str:
    names = sorted(set(expected), key=lambda t: _ORDER.index(t) if t in _ORDER else 999)
    # operators after a complete value are rarely what the user meant to write: say them last
    words = [_WORDS.get(t, t.lower()) for t in names]
    words = list(dict.fromkeys(words))
    if not words:
        return "nothing"
    if len(words) == 1:
        return words[0]
    return ", ".join(words[:-1]) + " or " + words[-1]


def did_you_mean(name: str, options: Iterable[str]) -> str:
    """A hint naming the closest option, or listing all of them."""
    opts = sorted(set(options))
    close = difflib.get_close_matches(name, opts, n=1, cutoff=0.6)
    listing = ", ".join(opts)
    if close:
        return f"did you mean '{close[0]}'? allowed: {listing}"
    return f"allowed: {listing}"


def from_lark(exc: UnexpectedInput, make_span, text: str, in_block_string: bool) -> SpecSyntaxError:
    """Rewrite a Lark error as a `SpecSyntaxError` at the offending place.

    `make_span(line, column, length)` maps a position in `text` to a span in the file.
    """
    where = "block string" if in_block_string else "spec"
    if not in_block_string:
        at_end = isinstance(exc, UnexpectedEOF) or (
            isinstance(exc, UnexpectedToken) and exc.token.type == "$END"
        )
        if isinstance(exc, UnexpectedToken) and not at_end:
            pos = exc.token.start_pos or 0
        else:
            pos = getattr(exc, "pos_in_stream", None) or len(text)
        brace = unclosed_brace(text, pos, at_end, make_span)
        if brace is not None:
            return brace
    if isinstance(exc, UnexpectedCharacters):
        line, col = exc.line, exc.column
        ch = text[exc.pos_in_stream] if exc.pos_in_stream < len(text) else ""
        span = make_span(line, col, 1)
        if ch == '"':
            return SpecSyntaxError(
                "unterminated string",
                span,
                'a string starts and ends with " on the same line (no escapes)',
            )
        if in_block_string:
            if ch.isspace():
                return SpecSyntaxError(
                    "unexpected space inside a cell override",
                    span,
                    "write overrides without spaces around the code, e.g. L1(heads=4)",
                )
            if ch.isalpha() and ch.islower():
                return SpecSyntaxError(
                    f"unexpected '{ch}' in a block string",
                    span,
                    f"cell codes start with a capital letter: {_CODE_LIST}; "
                    "overrides follow a code directly, e.g. L1(heads=4)",
                )
        shown = repr(ch) if ch else "end of text"
        allowed = set(exc.allowed or ())
        if in_block_string:
            allowed.discard("_NL")  # a block string is one line: never suggest a new line
        return SpecSyntaxError(
            f"unexpected character {shown} in the {where}", span, f"expected {_words(allowed)}"
        )
    if isinstance(exc, UnexpectedToken):
        tok = exc.token
        expected = set(exc.expected or ()) | set(getattr(exc, "accepts", None) or ())
        if in_block_string:
            expected.discard("_NL")  # a block string is one line: never suggest a new line
        if tok.type == "$END":
            line, col = end_position(text)
            if in_block_string and "RPAR" in expected:
                return SpecSyntaxError(
                    "unclosed '(' in the block string",
                    make_span(line, col, 1),
                    "close every group or override with ')', e.g. (S3Sh)*3",
                )
            if in_block_string and not text.strip():
                return SpecSyntaxError(
                    "empty block string",
                    make_span(1, 1, 1),
                    'write at least one cell, e.g. "T1L1G1"',
                )
            return SpecSyntaxError(
                f"unexpected end of the {where}",
                make_span(line, col, 1),
                f"expected {_words(expected)}",
            )
        span = make_span(tok.line, tok.column, len(tok) or 1)
        shown = "new line" if tok.type == "_NL" else repr(str(tok))
        hint = f"expected {_words(expected)}"
        if in_block_string and tok.type == "RPAR" and _before(text, tok) == "(":
            return SpecSyntaxError(
                "empty parentheses in the block string",
                span,
                "a group holds at least one cell, e.g. (S3Sh)*2; overrides name a key, "
                "e.g. L1(heads=4)",
            )
        opened = text.count("(", 0, tok.start_pos) - text.count(")", 0, tok.start_pos)
        if in_block_string and tok.type == "RPAR" and opened <= 0:
            return SpecSyntaxError(
                "unmatched ')' in the block string", span, "every ')' closes an earlier '('"
            )
        if in_block_string and tok.type == "NAME" and _before(text, tok).isalnum():
            word = _word_at(text, tok.start_pos)
            return SpecSyntaxError(
                f"'{word}' is not a cell code",
                make_span(tok.line, tok.column - (len(word) - len(tok)), len(word)),
                "override keys are lowercase, e.g. L1(heads=4)"
                if text[tok.end_pos :].lstrip().startswith("=")
                else "cell codes are two characters: L1 L0 G1 G0 T1 T0 F1 F0 L3 G3 V2 V3 S3 Sh "
                "C2 C3",
            )
        if in_block_string and tok.type == "NAME" and str(tok)[:1].isupper():
            return SpecSyntaxError(
                f"'{tok}' is not a cell code",
                span,
                f"cell codes are two characters: {_CODE_LIST}",
            )
        if in_block_string and tok.type == "NAME" and "CODE" in expected:
            hint = "an override follows its code directly, without a space: L1(heads=4)"
        elif in_block_string and tok.type == "INT":
            hint = "a repetition is written after the cell or group: L1*3 or (S3Sh)*3"
        elif tok.type == "_NL" and "RBRACE" in expected:
            hint = f"expected {_words(expected)}; an entry ends at the end of its line"
        elif tok.type == "RBRACE" and not in_block_string and "RBRACE" not in expected:
            return SpecSyntaxError(
                "unmatched '}' in the spec", span, "every '}' closes an earlier '{'"
            )
        elif tok.type in ("RBRACE",) and "EQUAL" in expected:
            hint = "an entry is written 'key = value'"
        return SpecSyntaxError(f"unexpected {shown} in the {where}", span, hint)
    if isinstance(exc, UnexpectedEOF):
        return SpecSyntaxError(
            f"unexpected end of the {where}",
            make_span(*end_position(text), 1),
            f"expected {_words(exc.expected or [])}",
        )
    return SpecSyntaxError(f"cannot parse the {where}", make_span(1, 1, 1))  # pragma: no cover


_BRACES = re.compile(r'"[^"\n]*"?|#[^\n]*|[{}\n]')  # strings and comments hide their braces
_STATEMENT = re.compile(r"[ \t]*(let|input|cell|stem|backbone|head)(?![A-Za-z0-9_])")
_HEAD = re.compile(r"([A-Za-z_][A-Za-z0-9_]*(?:[ \t]+[A-Za-z0-9_]+)?)[ \t]*$")


def unclosed_brace(text: str, pos: int, at_end: bool, make_span) -> SpecSyntaxError | None:
    """The error for a '{' left open, when that explains a syntax error at offset `pos`.

    It does when the error is at the end of the text with a '{' still open, or on a line that
    starts a statement (`let`, a section) while a '{' is open. The '{' named is the innermost
    one open there, unless a '}' at a smaller indentation than its '{' line closed a '{'
    earlier: that '{' is the one the user forgot to close. One pass over the text.
    """
    if at_end:
        limit, before = len(text), "the end of the spec"
    else:
        limit = text.rfind("\n", 0, pos) + 1
        found = _STATEMENT.match(text, limit)
        if found is None:
            return None
        before = f"'{found.group(1)}' on line {text.count(chr(10), 0, limit) + 1}"
    stack: list[tuple[int, int, int, int]] = []  # offset, line, column, indentation of its line
    dedented: tuple[int, int, int, int] | None = None
    line, line_start = 1, 0
    for m in _BRACES.finditer(text, 0, limit):
        ch = m.group()
        if ch == "\n":
            line, line_start = line + 1, m.end()
        elif ch == "{":
            head = text[line_start : m.start()]
            indent = len(head) - len(head.lstrip())
            stack.append((m.start(), line, m.start() - line_start + 1, indent))
        elif ch == "}" and stack:
            opened = stack.pop()
            lead = text[line_start : m.start()]
            if dedented is None and not lead.strip() and len(lead) < opened[3]:
                dedented, before = opened, f"line {line} (that '}}' closes an outer '{{')"
    if not stack:
        return None
    offset, bline, bcol, _ = dedented or stack[-1]
    start = text.rfind("\n", 0, offset) + 1
    named = _HEAD.search(text, start, offset)
    what = f" of '{' '.join(named.group(1).split())}'" if named else ""
    return SpecSyntaxError(
        f"unclosed '{{'{what} (line {bline})",
        make_span(bline, bcol, 1),
        f"close it with '}}' before {before}",
    )


def sort_errors(errors: Iterable[SpecError]) -> list[SpecError]:
    """Errors in source order (errors without a span last), duplicates removed."""
    seen: set = set()
    out: list[SpecError] = []
    for e in errors:
        key = (type(e).__name__, e.span, e.message)
        if key in seen:
            continue
        seen.add(key)
        out.append(e)
    # within one spec all spans share a file name, except the command line's <overrides>,
    # which come first (they are applied before the file is read)
    return sorted(
        out,
        key=lambda e: (
            e.span is None,
            e.span is not None and e.span.file != "<overrides>",
            e.span.key if e.span else ("", 0, 0),
        ),
    )


class Consequence(SpecError):
    """An error that only follows from another one already reported (a use of a `let` whose
    own value failed): collected nowhere, so one mistake is reported once."""


def divisors(n: int, limit: int = 16, keep=None) -> str:
    """The first `limit` divisors of `n` (those `keep` accepts) as text, for hints."""
    found: list[int] = []
    d = 1
    while d <= n and len(found) < limit and d <= 1_000_000:
        if n % d == 0 and (keep is None or keep(d)):
            found.append(d)
        d += 1
    if not found:
        return "none below 1,000,000"
    return ", ".join(map(str, found)) + (", ..." if len(found) == limit else "")


def raise_all(errors: Iterable[SpecError]) -> None:
    """Raise the first of `errors` (sorted) carrying all of them; do nothing if empty."""
    ordered = sort_errors(e for e in errors if not isinstance(e, Consequence))
    if ordered:
        first = ordered[0]
        first.errors = ordered
        raise first
