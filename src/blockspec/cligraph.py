"""`blockspec graph`: the architecture picture as DOT, or SVG/PNG/PDF through Graphviz."""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

from blockspec import clitools as ct
from blockspec._io import atomic_write
from blockspec.clitools import Exit as _Exit
from blockspec.clitools import fail as _fail

__all__ = ["add_arguments", "run", "GRAPH_FORMATS"]


def _usage(args: argparse.Namespace, message: str) -> int:
    args._parser.error(message)  # exits with 2
    return 2  # pragma: no cover


GRAPH_FORMATS = (".dot", ".gv", ".svg", ".png", ".pdf")


def add_arguments(sp: argparse.ArgumentParser) -> None:
    sp.add_argument("file", metavar="FILE")
    sp.add_argument(
        "-o",
        "--output",
        metavar="OUT.svg|.png|.pdf|.dot",
        help="the picture to write; .svg, .png and .pdf need Graphviz (default: DOT on stdout)",
    )
    sp.add_argument(
        "--depth",
        type=ct.positive_int,
        metavar="N",
        help="N >= 3 lists every block's cells (a SOANet lists them by default)",
    )
    ct.add_overrides(sp)


def run(args: argparse.Namespace) -> int:
    """Write the architecture picture: DOT by hand; SVG/PNG through Graphviz's `dot`."""
    from blockspec.graph import to_dot

    out = Path(args.output) if args.output else None
    suffix = out.suffix.lower() if out else ".dot"
    if suffix not in GRAPH_FORMATS:
        raise _Exit(_usage(args, f"-o must end in one of {', '.join(GRAPH_FORMATS)}"))
    title = "stdin" if args.file == ct.STDIN else Path(args.file).name
    dot_text = to_dot(ct.parse_spec(args.file, args, budget=False), title=title, depth=args.depth)
    if out is None:
        sys.stdout.write(dot_text)
        return 0
    if suffix in (".dot", ".gv"):
        atomic_write(out, dot_text)
    else:
        exe = shutil.which("dot")
        if exe is None:
            _fail(
                f"cannot write {out}: the Graphviz program `dot` is not installed",
                "install Graphviz (Debian/Ubuntu: apt-get install graphviz; macOS: brew "
                f"install graphviz), or write DOT text with -o {out.with_suffix('.dot')}",
            )
        try:
            proc = subprocess.run(
                [str(exe), f"-T{suffix[1:]}"],
                input=dot_text.encode("utf-8"),
                capture_output=True,
                timeout=300,
            )
        except OSError as exc:
            _fail(f"cannot run `dot` for {out}: {exc.strerror or exc}")
        if proc.returncode != 0:
            detail = proc.stderr.decode("utf-8", "replace").strip()
            _fail(f"`dot` failed to render {out}: {detail}")
        atomic_write(out, proc.stdout)  # a refused or failed write is a SpecError
    print(f"{out}: written", file=sys.stderr)
    return 0
