"""Helpers shared by the commands of `blockspec.cli`: argument types, the common options,
reading a spec named on the command line, and writing messages (colour, safe file names).

A subcommand registered from another module (``bench``, ``train``) may use these too.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import os
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import blockspec as bs
from blockspec.api import OverrideText
from blockspec.compiler import ir
from blockspec.compiler.budget import (
    DEFAULT_MAX_ACTIVATION_BYTES,
    DEFAULT_MAX_PARAMS,
    check_budget,
)
from blockspec.sources import NamedText, Source, read_stream

__all__ = [
    "Command",
    "Exit",
    "STDIN",
    "add_budgets",
    "add_color",
    "add_overrides",
    "amount",
    "fail",
    "override",
    "overrides",
    "parse_spec",
    "positive_int",
    "report",
    "say",
    "seed",
    "set_color",
    "shown",
    "spec_source",
]

STDIN = "-"
"""The FILE argument that reads the spec from standard input."""

COLOR_CHOICES = ("auto", "always", "never")

_UNITS = {
    "": 1,
    "b": 1,
    "k": 1e3,
    "m": 1e6,
    "g": 1e9,
    "t": 1e12,
    "kb": 1e3,
    "mb": 1e6,
    "gb": 1e9,
    "tb": 1e12,
    "kib": 2**10,
    "mib": 2**20,
    "gib": 2**30,
    "tib": 2**40,
}


@dataclass(frozen=True)
class Command:
    """One subcommand of `blockspec.cli`: `add_arguments(parser)` declares its arguments and
    `run(args)` returns the exit code (a `SpecError` it raises is reported, exit code 1)."""

    name: str
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]
    example: str = ""
    lazy: bool = False  # its module is imported only when this command is the one run

    @classmethod
    def from_module(cls, name: str, help: str, module: str, example: str = "") -> Command:
        """A command whose `add_arguments` and `run` are functions of `module`, imported only
        when this command is run (so `blockspec check` never imports the training or bench
        modules, and with them torch; and the module may itself import `blockspec.cli`)."""

        def add_arguments(parser: argparse.ArgumentParser) -> None:
            importlib.import_module(module).add_arguments(parser)

        def run(args: argparse.Namespace) -> int:
            return importlib.import_module(module).run(args)

        return cls(name, help, add_arguments, run, example, lazy=True)


class Exit(Exception):
    """Stop a command with an exit code (after its messages are written)."""

    def __init__(self, code: int) -> None:
        self.code = code


# -- argument types ------------------------------------------------------------------------


def amount(text: str) -> float:
    """A positive number with an optional suffix: 1e9, 25M, 8GiB, 512MB."""
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)\s*([A-Za-z]*)\s*", text)
    if not m or m.group(2).lower() not in _UNITS:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an amount (examples: 1e9, 25M, 8GiB, 512MB)"
        )
    value = float(m.group(1)) * _UNITS[m.group(2).lower()]
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be positive")
    return value


def positive_int(text: str) -> int:
    """An integer of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


SEED_RANGE = (-(2**63), 2**64 - 1)
"""The seeds torch's generator takes."""


def seed(text: str) -> int:
    """A weight-initialisation seed: an integer torch's generator takes."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    low, high = SEED_RANGE
    if not low <= value <= high:
        raise argparse.ArgumentTypeError(f"must be between -2**63 and 2**64 - 1, not {text}")
    return value


_NAME = r"[A-Za-z_][A-Za-z0-9_]*"


def override(text: str) -> tuple[str, str]:
    """``K=V`` -> (K, V), K a let or a key path (``backbone.levels``); V is parsed later as a
    spec expression."""
    name, eq, value = text.partition("=")
    if not eq or not re.fullmatch(rf"{_NAME}(\.{_NAME})*", name.strip()) or not value.strip():
        raise argparse.ArgumentTypeError(
            f"expected NAME=VALUE (e.g. C=64 or backbone.levels=3), got {text!r}"
        )
    return name.strip(), value.strip()


# -- common options ------------------------------------------------------------------------


def add_overrides(sp: argparse.ArgumentParser) -> None:
    """``--set NAME=VALUE`` (repeatable, each name once)."""
    sp.add_argument(
        "--set",
        action="append",
        type=override,
        metavar="NAME=VALUE",
        help="override a `let` (C=64) or a section key (backbone.levels=3, "
        "backbone.level2.heads=8); repeatable, each name once; VALUE is a spec expression",
    )


def add_budgets(sp: argparse.ArgumentParser) -> None:
    """``--max-params`` and ``--max-memory``."""
    sp.add_argument(
        "--max-params",
        type=amount,
        default=DEFAULT_MAX_PARAMS,
        metavar="N",
        help="parameter budget (default 1e9; suffixes K, M, G)",
    )
    sp.add_argument(
        "--max-memory",
        type=amount,
        default=DEFAULT_MAX_ACTIVATION_BYTES,
        metavar="BYTES",
        help="activation-memory budget (default 8GiB; suffixes KiB, MiB, GiB, MB, GB)",
    )


def add_color(p: argparse.ArgumentParser, default: str | None) -> None:
    """``--color``; a subcommand's (`default` None) keeps the value given before it."""
    p.add_argument(
        "--color",
        choices=COLOR_CHOICES,
        default=argparse.SUPPRESS if default is None else default,
        help="colour the errors: auto (on a terminal, unless NO_COLOR is set), always or never",
    )


def overrides(args: argparse.Namespace) -> dict[str, OverrideText] | None:
    """The ``--set`` pairs as API overrides; a name set twice is a usage error."""
    out: dict[str, OverrideText] = {}
    for name, value in getattr(args, "set", None) or []:
        if name in out:
            args._parser.error(
                f"--set {name} is given twice ({name}={out[name].text} and {name}={value}); "
                "give each name once"
            )
        out[name] = OverrideText(value)
    return out or None


_stdin_text: NamedText | None = None


def spec_source(name: str) -> Source:
    """The source a FILE argument names: ``-`` is standard input (read once), ``@NAME`` a
    packaged spec, anything else a path (so any file name is a path, whatever it ends in)."""
    global _stdin_text
    if name.startswith("@") and not os.path.exists(name):
        from blockspec.registry import spec_text

        return NamedText(spec_text(name), name)
    if name != STDIN:
        return Path(name)
    if _stdin_text is None:
        from blockspec.sources import decode

        stream = sys.stdin.buffer if hasattr(sys.stdin, "buffer") else sys.stdin
        _stdin_text = NamedText(decode(read_stream(stream), "<stdin>"), "<stdin>")
    return _stdin_text


def parse_spec(name: str, args: argparse.Namespace, budget: bool = True) -> ir.Network:
    """Parse a FILE argument (a path, or `-`) with the ``--set`` overrides of `args`; with
    `budget`, check ``--max-params``/``--max-memory`` too."""
    net = bs.parse(spec_source(name), overrides(args))
    if budget:
        check_budget(net, args.max_params, args.max_memory)
    return net


def forget_stdin() -> None:
    """Let the next `spec_source("-")` read standard input again (one per `main` call)."""
    global _stdin_text
    _stdin_text = None


def source_name(name: str) -> str:
    """How messages name a FILE argument."""
    return "<stdin>" if name == STDIN else name


# -- output --------------------------------------------------------------------------------

_color = "auto"


def set_color(mode: str) -> None:
    """``auto`` (a terminal, and NO_COLOR unset or empty), ``always`` or ``never``."""
    global _color
    _color = mode


def use_color(stream: TextIO) -> bool:
    """Whether messages on `stream` are coloured, by ``--color`` and NO_COLOR (no-color.org)."""
    if _color != "auto":
        return _color == "always"
    if os.environ.get("NO_COLOR", ""):
        return False
    return hasattr(stream, "isatty") and stream.isatty()


def shown(text: str, stream: TextIO) -> str:
    """`text` as `stream` can write it: bytes of a file name that were not UTF-8 (kept by
    Python as lone surrogates) and characters the encoding lacks become replacements."""
    text = re.sub("[\ud800-\udfff]", "\ufffd", text)
    encoding = getattr(stream, "encoding", None) or "utf-8"
    try:
        return text.encode(encoding, "replace").decode(encoding)
    except LookupError:  # pragma: no cover - an encoding Python does not know
        return text


def say(text: str, stream: TextIO | None = None) -> None:
    """Print one message line (a file name in it printed with replacements); stdout default."""
    stream = sys.stdout if stream is None else stream
    print(shown(text, stream), file=stream)


def add_strict(sp: argparse.ArgumentParser) -> None:
    sp.add_argument("--strict", action="store_true", help="treat warnings as errors")


def warn(net: ir.Network, args: argparse.Namespace, source: str | None = None) -> None:
    """Show the spec's warnings on stderr; under ``--strict`` raise them as errors."""
    if not net.warnings:
        return
    first = net.warnings[0]
    first.errors = list(net.warnings)
    if getattr(args, "strict", False):
        raise first
    report(first, source)


def dynamic_note(net: ir.Network) -> str:
    """For a spec with dynamic sizes: the input its figures are for."""
    if not any(isinstance(a, ir.Sym) for a in net.input.size):
        return ""
    from blockspec.compiler.summary import figures_at, shape_text

    return (
        f"; dynamic sizes: budgets checked at {shape_text(figures_at(net))}, and again at "
        "run time at the size fed"
    )


def report(err: bs.SpecError, source: str | None = None) -> None:
    """Every error of `err` (sorted) on stderr, a blank line between them. With `source`, the
    errors in the ``<overrides>`` pseudo-file name the spec they were applied to."""
    if source is not None:
        file = f"<overrides of {source_name(source)}>"
        for e in err.errors:
            if e.span is not None and e.span.file == "<overrides>":
                e.span = dataclasses.replace(e.span, file=file)
    color = use_color(sys.stderr)
    say("\n\n".join(e.render(color=color) for e in err.errors), sys.stderr)


def fail(message: str, hint: str | None = None) -> None:
    """A non-spec error (an output file, a missing program) rendered like the others."""
    report(bs.SpecError(message, None, hint))
    raise Exit(1)
