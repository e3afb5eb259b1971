"""Reading a spec source: a file, a str of spec text, or a stream such as standard input.

Whatever the source, the reader refuses what is not a spec file before reading much of it: a
folder, a FIFO, a device or a socket (checked with ``stat``, and the file is opened without
blocking, so a FIFO never hangs), and anything over `MAX_SOURCE_BYTES` (checked before reading;
at most one byte more than the limit is ever read). A UTF-8 byte-order mark is skipped. Every
failure is a `SpecError` subclass whose message names the source.

Which `str` is a path and which is spec text:

1. a `str` with a new line is spec text;
2. a one-line `str` that names an existing file (any name, any kind but a folder) is a path;
3. a one-line `str` that ends in ``.bspec`` and holds none of the characters spec text needs
   (``{ } = # "``) is a path, so a missing one is "no such spec file";
4. any other `str` is spec text, named ``<string>`` in errors; when it is one line that looks
   like a file name (or names a folder) and does not parse, the error's hint says so.

A `pathlib.Path` (any `os.PathLike`) is always a path; a `NamedText` is text with a name; a
one-line `str` starting with ``@`` names a packaged spec (``@swin_t``, see `registry`).
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from .errors import Span, SpecError, SpecSyntaxError, SpecValueError

__all__ = [
    "MAX_SOURCE_BYTES",
    "NamedText",
    "Source",
    "decode",
    "is_path",
    "read_bytes",
    "read_source",
    "read_stream",
]

MAX_SOURCE_BYTES = 1_000_000
"""The largest spec source, file or text, in bytes of UTF-8 (1 MB; real specs are a few KB)."""

SPEC_CHARS = frozenset('{}=#"')
"""Characters that spec text needs and file names rarely hold (rule 3 of the module doc)."""

_BOM = "\ufeff"
_LIMIT_HINT = "a spec is a few kilobytes: check that this is the right file"


@dataclass(frozen=True)
class NamedText:
    """Spec text with the name its errors give it, e.g. ``NamedText(text, "<stdin>")``."""

    text: str
    name: str


Source = str | os.PathLike | NamedText


def is_path(source: str) -> bool:
    """Whether a `str` source is a file name rather than spec text (the module doc's rules)."""
    if "\n" in source or "\r" in source:
        return False
    if os.path.lexists(source) and not os.path.isdir(source):  # False for a NUL byte
        return True  # a FIFO or a device is a path too, refused as such when read
    return source.strip().endswith(".bspec") and not SPEC_CHARS.intersection(source)


def _looks_like_a_file_name(text: str) -> bool:
    """One line, no spec characters, and a folder separator or an extension: ``x.txt``."""
    one = text.strip()
    return (
        bool(one)
        and "\n" not in text
        and not SPEC_CHARS.intersection(one)
        and re.search(r"[/\\]|\.[A-Za-z0-9]+$", one) is not None
    )


def read_source(source: Source) -> tuple[str, str]:
    """(text, name) of a source: a path, spec text or a `NamedText` (see the module doc)."""
    if isinstance(source, NamedText):
        return _checked_text(source.text, source.name), source.name
    if isinstance(source, str) and source.startswith("@") and "\n" not in source:
        from .registry import spec_text  # a packaged spec, by name

        return spec_text(source.strip()), source.strip()
    if isinstance(source, os.PathLike) or (isinstance(source, str) and is_path(source)):
        name = _display(source)
        return decode(read_bytes(source, name), name), name
    if not isinstance(source, str):
        raise TypeError(
            f"a spec source is a path, a str or a NamedText, not {type(source).__name__}"
        )
    text = _checked_text(source, "<string>")
    if _looks_like_a_file_name(source) or ("\n" not in source and os.path.isdir(source)):
        _hint_at_the_path(source)
    return text, "<string>"


def _hint_at_the_path(text: str) -> None:
    """A one-line text that looks like a file name: if it does not parse, say it is no file."""
    from .compiler.ast import parse_spec

    try:
        parse_spec(text, "<string>")
    except SpecError as err:
        what = "is a folder" if os.path.isdir(text) else "names no file"
        note = (
            f"{text.strip()!r} {what}, so this str was read as spec text "
            "(a one-line str is a path when it names a file or ends in .bspec)"
        )
        err.hint = note
        raise err from None


def _display(source: str | os.PathLike) -> str:
    """The name errors give a path: as given, undecodable bytes shown as U+FFFD."""
    name = os.fspath(source)
    if isinstance(name, bytes):
        return name.decode("utf-8", "replace")
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _checked_text(text: str, name: str) -> str:
    """Text given as a str: within the size limit, a leading byte-order mark dropped."""
    if len(text) > MAX_SOURCE_BYTES or len(text.encode("utf-8", "surrogatepass")) > (
        MAX_SOURCE_BYTES
    ):
        raise SpecValueError(
            f"{name}: the spec text is over the limit of {MAX_SOURCE_BYTES:,} bytes",
            None,
            _LIMIT_HINT,
        )
    return text[1:] if text.startswith(_BOM) else text


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def _check_stat(st: os.stat_result, name: str) -> None:
    if not stat.S_ISREG(st.st_mode):
        hint = (
            "name a .bspec file inside it"
            if stat.S_ISDIR(st.st_mode)
            else "a spec source is a regular file: pass its text as a str instead (on the "
            "command line, pipe it into `-`)"
        )
        raise SpecValueError(f"{name} is {_kind(st.st_mode)}, not a spec file", None, hint)
    if st.st_size > MAX_SOURCE_BYTES:
        raise SpecValueError(
            f"{name} is {st.st_size:,} bytes, over the limit of {MAX_SOURCE_BYTES:,} bytes "
            "for a spec file",
            None,
            _LIMIT_HINT,
        )


def read_bytes(path: str | os.PathLike, name: str | None = None) -> bytes:
    """The bytes of a spec file, after checking that it is a regular file within the limit."""
    name = _display(path) if name is None else name
    try:
        _check_stat(os.stat(path), name)  # before opening: opening a FIFO would block
        flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
        fd = os.open(path, flags | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0))
    except ValueError:  # "embedded null byte"
        raise SpecValueError(
            f"no such spec file: {name!r} (a file name cannot hold a NUL byte)",
            None,
            "check the path",
        ) from None
    except FileNotFoundError:
        raise SpecValueError(
            f"no such spec file: {name}", None, "check the path (specs end in .bspec)"
        ) from None
    except OSError as exc:
        raise SpecValueError(f"cannot read {name}: {exc.strerror or exc}") from None
    with os.fdopen(fd, "rb") as f:
        try:
            _check_stat(os.fstat(f.fileno()), name)  # it may have been replaced meanwhile
            data = f.read(MAX_SOURCE_BYTES + 1)
        except OSError as exc:
            raise SpecValueError(f"cannot read {name}: {exc.strerror or exc}") from None
    if len(data) > MAX_SOURCE_BYTES:  # it grew after the check
        raise SpecValueError(
            f"{name} is over the limit of {MAX_SOURCE_BYTES:,} bytes for a spec file",
            None,
            _LIMIT_HINT,
        )
    return data


def read_stream(stream: BinaryIO, name: str = "<stdin>") -> bytes:
    """The bytes of a binary stream (standard input), at most `MAX_SOURCE_BYTES` of them."""
    try:
        data = stream.read(MAX_SOURCE_BYTES + 1)
    except OSError as exc:
        raise SpecValueError(f"cannot read {name}: {exc.strerror or exc}") from None
    if data is None:  # a non-blocking stream with nothing in it yet
        data = b""
    if len(data) > MAX_SOURCE_BYTES:
        raise SpecValueError(
            f"{name}: the spec text is over the limit of {MAX_SOURCE_BYTES:,} bytes",
            None,
            _LIMIT_HINT,
        )
    return data


def decode(data: bytes, name: str) -> str:
    """UTF-8 text of a source's bytes, a leading byte-order mark skipped; a clear error at the
    first byte that is not UTF-8."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        head = data[: exc.start]
        line = head.count(b"\n") + 1
        column = len(head[head.rfind(b"\n") + 1 :].decode("utf-8", "replace")) + 1
        raise SpecSyntaxError(
            f"{name} is not UTF-8 text: byte 0x{data[exc.start]:02x} cannot be decoded",
            Span(line, column, 1, name, None),
            "save the file as UTF-8",
        ) from None
    return text[1:] if text.startswith(_BOM) else text


def argument_source(name: str) -> Source:
    """The source a command-line SPEC argument names: ``@NAME`` a packaged spec (unless a file
    of that name exists), anything else a path, whatever it ends in."""
    if name.startswith("@") and not os.path.exists(name):
        return name
    return Path(name)
