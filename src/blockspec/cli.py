"""The command line: ``blockspec check | summary | compile | fmt | graph`` (DESIGN.md, CLI).

Exit codes: 0 ok; 1 a spec error, a file not formatted under ``fmt --check``, or ``dot``
missing for SVG/PNG; 2 a usage error. Errors are rendered on stderr like a compiler, in colour
only when stderr is a terminal and ``NO_COLOR`` is not set.
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import re
import shutil
import subprocess
import sys
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TextIO

# torch warns on import when numpy is missing; a CLI user has nothing to do about it
warnings.filterwarnings("ignore", message="Failed to initialize NumPy")

import blockspec as bs  # noqa: E402
from blockspec._io import atomic_write  # noqa: E402
from blockspec.api import OverrideText  # noqa: E402
from blockspec.compiler.budget import (  # noqa: E402
    DEFAULT_MAX_ACTIVATION_BYTES,
    DEFAULT_MAX_PARAMS,
    check_budget,
)

__all__ = ["main", "build_parser"]

EPILOG = """\
examples:
  blockspec check examples/*.bspec
  blockspec check examples/unet_cine.bspec --set C=64 --set FRAMES=8
  blockspec summary examples/swin_t.bspec --depth 1
  blockspec summary examples/hrnet3.bspec --json > summary.json
  blockspec compile examples/unet_cine.bspec -o unet.pt --seed 1
  blockspec fmt -w examples/*.bspec
  blockspec fmt --check examples/*.bspec
  blockspec graph examples/unet_cine.bspec -o unet.svg

exit codes: 0 ok, 1 spec error (or not formatted, or `dot` missing), 2 usage error.
Errors are coloured on a terminal unless NO_COLOR is set.
"""

_UNITS = {
    "": 1,
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
    "b": 1,
}


class _Exit(Exception):
    """Stop a command with an exit code (after its messages are written)."""

    def __init__(self, code: int) -> None:
        self.code = code


def _amount(text: str) -> float:
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


def _override(text: str) -> tuple[str, str]:
    """``K=V`` -> (K, V); V is parsed later as a spec expression."""
    name, eq, value = text.partition("=")
    if not eq or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name.strip()) or not value.strip():
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE (e.g. C=64), got {text!r}")
    return name.strip(), value.strip()


def _use_color(stream: TextIO) -> bool:
    return "NO_COLOR" not in os.environ and hasattr(stream, "isatty") and stream.isatty()


def _report(err: bs.SpecError) -> None:
    """Every error of `err` (sorted), rendered on stderr, a blank line between them."""
    color = _use_color(sys.stderr)
    text = "\n\n".join(e.render(color=color) for e in err.errors)
    print(text, file=sys.stderr)


def _fail(message: str, hint: str | None = None) -> None:
    """A non-spec error (an output file, a missing program) rendered like the others."""
    _report(bs.SpecError(message, None, hint))
    raise _Exit(1)


def _overrides(args: argparse.Namespace) -> dict[str, OverrideText] | None:
    pairs = getattr(args, "set", None) or []
    return {k: OverrideText(v) for k, v in pairs} or None


def _parse(path: str, args: argparse.Namespace, budget: bool = True):
    """Parse (and budget-check) one spec file; a `Path`, so any file name is a path."""
    net = bs.parse(Path(path), _overrides(args))
    if budget:
        check_budget(net, args.max_params, args.max_memory)
    return net


# -- commands ------------------------------------------------------------------------------


def cmd_check(args: argparse.Namespace) -> int:
    """Parse, validate and budget-check each file; one line per good file."""
    failed = False
    for path in args.files:
        try:
            net = _parse(path, args)
        except bs.SpecError as err:
            _report(err)
            failed = True
            continue
        cells = sum(1 for _ in net.cells())
        params = bs.summary(net).totals.params
        print(f"{path}: ok ({cells} cells, {params:,} params)")
    return 1 if failed else 0


def cmd_summary(args: argparse.Namespace) -> int:
    """The summary table (or JSON) of one spec."""
    s = bs.summary(_parse(args.file, args))
    if args.json:
        print(json.dumps(s.to_dict(), indent=2))
    else:
        print(s.table(args.depth))
    return 0


def cmd_compile(args: argparse.Namespace) -> int:
    """Build the model of a spec and save it with its spec."""
    net = _parse(args.file, args)
    model = bs.compile(
        net, seed=args.seed, max_params=args.max_params, max_activation_bytes=args.max_memory
    )
    out = Path(args.output)
    bs.save(model, out)  # a write failure is a CheckpointError, reported like any SpecError
    params = sum(p.numel() for p in model.parameters())
    print(f"{out}: {params:,} params, seed {args.seed}, from {args.file}")
    return 0


def cmd_fmt(args: argparse.Namespace) -> int:
    """Canonical formatting: print, check (with a diff) or rewrite in place."""
    if not (args.check or args.write) and len(args.files) != 1:
        raise _Exit(_usage(args, "fmt prints one file; use --check or -w for several"))
    status = 0
    for name in args.files:
        path = Path(name)
        try:
            canon = bs.format(path)
            original = path.read_text(encoding="utf-8")
        except bs.SpecError as err:
            _report(err)
            status = 1
            continue
        if args.check:
            if canon != original:
                diff = difflib.unified_diff(
                    original.splitlines(keepends=True),
                    canon.splitlines(keepends=True),
                    f"{name} (as written)",
                    f"{name} (formatted)",
                )
                sys.stdout.writelines(line if line.endswith("\n") else line + "\n" for line in diff)
                print(f"{name}: not formatted", file=sys.stderr)
                status = 1
        elif args.write:
            if canon != original:
                try:
                    atomic_write(path, canon)
                except bs.SpecError as err:
                    _report(err)
                    status = 1
                    continue
                print(f"{name}: formatted", file=sys.stderr)
        else:
            sys.stdout.write(canon)
    return status


GRAPH_FORMATS = (".dot", ".gv", ".svg", ".png")


def cmd_graph(args: argparse.Namespace) -> int:
    """Write the architecture picture: DOT by hand; SVG/PNG through Graphviz's `dot`."""
    from blockspec.graph import to_dot

    out = Path(args.output) if args.output else None
    suffix = out.suffix.lower() if out else ".dot"
    if suffix not in GRAPH_FORMATS:
        raise _Exit(_usage(args, f"-o must end in one of {', '.join(GRAPH_FORMATS)}"))
    dot_text = to_dot(_parse(args.file, args, budget=False), title=Path(args.file).name)
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


# -- parser --------------------------------------------------------------------------------


def _usage(args: argparse.Namespace, message: str) -> int:
    args._parser.error(message)  # exits with 2
    return 2  # pragma: no cover


def build_parser() -> argparse.ArgumentParser:
    """The argparse parser of the `blockspec` command."""
    p = argparse.ArgumentParser(
        prog="blockspec",
        description="Compile imaging-network specs (*.bspec) into torch.nn modules.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--version", action="version", version=f"blockspec {bs.__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def add(name: str, func: Callable[[argparse.Namespace], int], help: str, example: str):
        sp = sub.add_parser(
            name,
            help=help,
            description=help,
            epilog=f"example:\n  {example}",
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        sp.set_defaults(func=func, _parser=sp)
        return sp

    def overrides(sp: argparse.ArgumentParser) -> None:
        sp.add_argument(
            "--set",
            action="append",
            type=_override,
            metavar="NAME=VALUE",
            help="override a `let` of the spec (repeatable); VALUE is a spec expression",
        )

    def budgets(sp: argparse.ArgumentParser) -> None:
        sp.add_argument(
            "--max-params",
            type=_amount,
            default=DEFAULT_MAX_PARAMS,
            metavar="N",
            help="parameter budget (default 1e9; suffixes K, M, G)",
        )
        sp.add_argument(
            "--max-memory",
            type=_amount,
            default=DEFAULT_MAX_ACTIVATION_BYTES,
            metavar="BYTES",
            help="activation-memory budget (default 8GiB; suffixes KiB, MiB, GiB, MB, GB)",
        )

    sp = add(
        "check",
        cmd_check,
        "parse, validate and check the budgets of spec files",
        "blockspec check examples/*.bspec --set C=64",
    )
    sp.add_argument("files", nargs="+", metavar="FILE")
    overrides(sp)
    budgets(sp)

    sp = add(
        "summary",
        cmd_summary,
        "print shapes, parameters, FLOPs and activation memory per node",
        "blockspec summary examples/unet_cine.bspec --depth 1",
    )
    sp.add_argument("file", metavar="FILE")
    overrides(sp)
    budgets(sp)
    how = sp.add_mutually_exclusive_group()
    how.add_argument("--depth", type=int, metavar="N", help="fold rows below N path parts")
    how.add_argument("--json", action="store_true", help="print JSON (schema: docs/cli.md)")

    sp = add(
        "compile",
        cmd_compile,
        "build the model of a spec and save it as a checkpoint with its spec",
        "blockspec compile examples/unet_cine.bspec -o unet.pt --seed 1",
    )
    sp.add_argument("file", metavar="FILE")
    sp.add_argument("-o", "--output", required=True, metavar="MODEL.pt")
    sp.add_argument("--seed", type=int, default=0, help="weight-initialisation seed (default 0)")
    overrides(sp)
    budgets(sp)

    sp = add(
        "fmt",
        cmd_fmt,
        "print spec files in canonical form (comments kept), check or rewrite them",
        "blockspec fmt --check examples/*.bspec",
    )
    sp.add_argument("files", nargs="+", metavar="FILE")
    mode = sp.add_mutually_exclusive_group()
    mode.add_argument(
        "--check", action="store_true", help="exit 1 and print a diff if a file is not canonical"
    )
    mode.add_argument("-w", "--write", action="store_true", help="rewrite files in place")

    sp = add(
        "graph",
        cmd_graph,
        "draw the architecture: DOT text, or SVG/PNG through Graphviz",
        "blockspec graph examples/hrnet3.bspec -o hrnet.svg",
    )
    sp.add_argument("file", metavar="FILE")
    sp.add_argument(
        "-o",
        "--output",
        metavar="OUT.svg|.png|.dot",
        help="the picture to write; .svg and .png need Graphviz (default: DOT on stdout)",
    )
    overrides(sp)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code (the console script exits with it)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except bs.SpecError as err:
        _report(err)
        return 1
    except _Exit as stop:
        return stop.code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # the reader (e.g. `| head`) went away: stop quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
