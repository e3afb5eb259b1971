"""The command line: ``blockspec check | summary | compile | fmt | graph``.

Exit codes: 0 ok; 1 a spec error, a file not formatted under ``fmt --check``, or ``dot``
missing for SVG/PNG; 2 a usage error. Errors are rendered on stderr like a compiler, in colour
by ``--color`` (``auto``: when stderr is a terminal and ``NO_COLOR`` is unset or empty).

Each subcommand is one `Command` entry in `COMMANDS` (name, help, add_arguments, run); another
module adds one with `register`. Shared helpers are in `blockspec.clitools`.
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path

# torch warns on import when numpy is missing; a CLI user has nothing to do about it
warnings.filterwarnings("ignore", message="Failed to initialize NumPy")

import blockspec as bs  # noqa: E402
from blockspec import clitools as ct  # noqa: E402
from blockspec._io import atomic_write  # noqa: E402
from blockspec.clitools import Command  # noqa: E402
from blockspec.clitools import Exit as _Exit  # noqa: E402
from blockspec.clitools import report as _report  # noqa: E402
from blockspec.compiler.budget import check_budget  # noqa: E402
from blockspec.sources import NamedText, decode, read_bytes  # noqa: E402

__all__ = ["COMMANDS", "Command", "build_parser", "main", "register"]

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
  cat examples/swin_t.bspec | blockspec check -
  blockspec train examples/unet_small.bspec --task denoise --steps 300 --out runs/a
  blockspec list; blockspec summary @swin_t --set CLASSES=10

A FILE of `-` reads the spec from standard input.
exit codes: 0 ok, 1 spec error (or not formatted, or `dot` missing), 2 usage error.
Errors are coloured on a terminal (--color auto) unless NO_COLOR is set to a non-empty value.
"""


COMMANDS: list[Command] = []


def register(command: Command) -> Command:
    """Add a subcommand (after the built-in ones, in the order registered)."""
    if any(c.name == command.name for c in COMMANDS):
        raise ValueError(f"a command named {command.name!r} is already registered")
    COMMANDS.append(command)
    return command


_parse = ct.parse_spec


# -- commands ------------------------------------------------------------------------------


def check_arguments(sp: argparse.ArgumentParser) -> None:
    sp.add_argument("files", nargs="+", metavar="FILE")
    ct.add_overrides(sp)
    ct.add_budgets(sp)
    ct.add_strict(sp)


def cmd_check(args: argparse.Namespace) -> int:
    """Parse, validate and budget-check each file; one line per good file, and a count at the
    end when there are several."""
    failed = 0
    for path in args.files:
        try:
            net = _parse(path, args)
            ct.warn(net, args, source=path)
        except bs.SpecError as err:
            _report(err, source=path)
            failed += 1
            continue
        cells = sum(1 for _ in net.cells())
        params = bs.summary(net).totals.params
        note = ct.dynamic_note(net)
        ct.say(f"{ct.source_name(path)}: ok ({cells} cells, {params:,} params{note})")
    if len(args.files) > 1:
        ct.say(f"{len(args.files) - failed} ok, {failed} failed")
    return 1 if failed else 0


def summary_arguments(sp: argparse.ArgumentParser) -> None:
    sp.add_argument("file", metavar="FILE")
    ct.add_overrides(sp)
    ct.add_budgets(sp)
    ct.add_strict(sp)
    how = sp.add_mutually_exclusive_group()
    how.add_argument(
        "--depth",
        type=ct.positive_int,
        metavar="N",
        help="rows down to N path parts: fold deeper nodes, expand blocks into cells and "
        "their submodules (N >= 1)",
    )
    how.add_argument("--json", action="store_true", help="print JSON (schema: docs/cli.md)")
    sp.add_argument(
        "--batch", type=ct.positive_int, default=1, metavar="N", help="scale FLOPs and memory"
    )
    sp.add_argument(
        "--dtype",
        choices=("float32", "bfloat16", "float16", "float64"),
        default="float32",
        help="the element type memory and parameter sizes are counted in",
    )


def cmd_summary(args: argparse.Namespace) -> int:
    """The summary table (or JSON) of one spec; over a budget, the table and then the error."""
    net = _parse(args.file, args, budget=False)
    ct.warn(net, args, source=args.file)
    s = bs.summary(net)
    if args.json:
        print(json.dumps(s.to_dict(args.batch, args.dtype), indent=2))
    else:
        print(s.table(args.depth, args.batch, args.dtype))
    sys.stdout.flush()  # the table comes before the budget error on a shared terminal
    check_budget(net, args.max_params, args.max_memory)
    return 0


def compile_arguments(sp: argparse.ArgumentParser) -> None:
    sp.add_argument("file", metavar="FILE")
    sp.add_argument("-o", "--output", required=True, metavar="MODEL.pt")
    sp.add_argument(
        "--seed", type=ct.seed, default=0, help="weight-initialisation seed (default 0)"
    )
    ct.add_overrides(sp)
    ct.add_budgets(sp)


def cmd_compile(args: argparse.Namespace) -> int:
    """Build the model of a spec and save it with its spec."""
    net = _parse(args.file, args)
    model = bs.compile(
        net, seed=args.seed, max_params=args.max_params, max_activation_bytes=args.max_memory
    )
    out = Path(args.output)
    bs.save(model, out)  # a write failure is a CheckpointError, reported like any SpecError
    params = sum(p.numel() for p in model.parameters())
    ct.say(f"{out}: {params:,} params, seed {args.seed}, from {ct.source_name(args.file)}")
    return 0


def fmt_arguments(sp: argparse.ArgumentParser) -> None:
    sp.add_argument("files", nargs="+", metavar="FILE")
    mode = sp.add_mutually_exclusive_group()
    mode.add_argument(
        "--check", action="store_true", help="exit 1 and print a diff if a file is not canonical"
    )
    mode.add_argument("-w", "--write", action="store_true", help="rewrite files in place")


def _as_written(name: str) -> str:
    """The text of a FILE argument as written (a byte-order mark kept, so that it is not
    canonical); a `SpecError` if it is not a spec file or not UTF-8."""
    if name == ct.STDIN or (name.startswith("@") and not Path(name).exists()):
        return ct.spec_source(name).text  # type: ignore[union-attr]
    raw = read_bytes(Path(name), name)
    decode(raw, name)  # the error at the first byte that is not UTF-8
    return raw.decode("utf-8")


def cmd_fmt(args: argparse.Namespace) -> int:
    """Canonical formatting: print, check (with a diff) or rewrite in place."""
    if not (args.check or args.write) and len(args.files) != 1:
        raise _Exit(_usage(args, "fmt prints one file; use --check or -w for several"))
    if args.write and ct.STDIN in args.files:
        raise _Exit(_usage(args, "-w cannot rewrite standard input (`-`); print it with fmt -"))
    packaged = [n for n in args.files if n.startswith("@") and not Path(n).exists()]
    if args.write and packaged:
        raise _Exit(
            _usage(
                args,
                f"-w cannot rewrite the packaged {packaged[0]}; copy it: "
                f"blockspec fmt {packaged[0]} > my.bspec",
            )  # fmt: skip
        )
    status = 0
    for name in args.files:
        path = Path(name)
        try:
            original = _as_written(name)
            canon = bs.format(NamedText(original, ct.source_name(name)))
        except bs.SpecError as err:
            _report(err)
            status = 1
            continue
        if args.check:
            if canon != original:
                diff = difflib.unified_diff(
                    original.splitlines(keepends=True),
                    canon.splitlines(keepends=True),
                    ct.shown(f"{ct.source_name(name)} (as written)", sys.stdout),
                    ct.shown(f"{ct.source_name(name)} (formatted)", sys.stdout),
                )
                sys.stdout.writelines(line if line.endswith("\n") else line + "\n" for line in diff)
                ct.say(f"{ct.source_name(name)}: not formatted", sys.stderr)
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


def cmd_list(args: argparse.Namespace) -> int:
    """The packaged specs: name, parameters, `let`s and what each one is."""
    from blockspec import registry

    rows = [("name", "params", "lets (--set NAME=VALUE)", "what it is")]
    for name in registry.list_specs():
        params = bs.summary(f"@{name}").totals.params
        lets = ", ".join(f"{k}={v}" for k, v in registry.lets_of(name).items())
        rows.append((f"@{name}", f"{params:,}", lets, registry.describe(name)))
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    for r in rows:
        ct.say(f"{r[0].ljust(widths[0])}  {r[1].rjust(widths[1])}  {r[2].ljust(widths[2])}  {r[3]}")
    return 0


# -- parser --------------------------------------------------------------------------------

COMMANDS += [
    Command(
        "check",
        "parse, validate and check the budgets of spec files",
        check_arguments,
        cmd_check,
        "blockspec check examples/*.bspec --set C=64",
    ),
    Command(
        "summary",
        "print shapes, parameters, FLOPs and activation memory per node",
        summary_arguments,
        cmd_summary,
        "blockspec summary examples/unet_cine.bspec --depth 1",
    ),
    Command(
        "compile",
        "build the model of a spec and save it as a checkpoint with its spec",
        compile_arguments,
        cmd_compile,
        "blockspec compile examples/unet_cine.bspec -o unet.pt --seed 1",
    ),
    Command(
        "fmt",
        "print spec files in canonical form (comments kept), check or rewrite them",
        fmt_arguments,
        cmd_fmt,
        "blockspec fmt --check examples/*.bspec",
    ),
    Command.from_module(
        "graph",
        "draw the architecture: DOT text, or SVG/PNG/PDF through Graphviz",
        "blockspec.cligraph",
        "blockspec graph examples/hrnet3.bspec -o hrnet.svg",
    ),
    Command.from_module(
        "train",
        "train a spec on synthetic data (denoise, segment or classify)",
        "blockspec.training.cli",
        "blockspec train small.bspec --task denoise --steps 300 --out runs/a",
    ),
    Command(
        "list",
        "list the packaged specs (each usable as @NAME wherever a FILE is taken)",
        lambda sp: None,
        cmd_list,
        "blockspec list",
    ),
    Command.from_module(
        "bench",
        "time a compiled model against the summary's estimates",
        "blockspec.bench",
        "blockspec bench examples/hrnet3.bspec --train",
    ),
]


def _usage(args: argparse.Namespace, message: str) -> int:
    args._parser.error(message)  # exits with 2
    return 2  # pragma: no cover


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The argparse parser of the `blockspec` command, one subparser per `COMMANDS` entry.

    A lazy command's arguments are declared only when `argv` names it (or without `argv`)."""
    names = {c.name for c in COMMANDS}
    chosen = None if argv is None else next((a for a in argv if a in names), "")
    p = argparse.ArgumentParser(
        prog="blockspec",
        description="Compile imaging-network specs (*.bspec) into torch.nn modules.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--version", action="version", version=f"blockspec {bs.__version__}")
    ct.add_color(p, "auto")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for command in COMMANDS:
        sp = sub.add_parser(
            command.name,
            help=command.help,
            description=command.help,
            epilog=f"example:\n  {command.example}" if command.example else None,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        if not command.lazy or chosen is None or chosen == command.name:
            command.add_arguments(sp)
        ct.add_color(sp, None)  # after the subcommand too: `blockspec check --color never`
        sp.set_defaults(func=command.run, _parser=sp)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code (the console script exits with it)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    ct.set_color(args.color)
    ct.forget_stdin()
    ct.overrides(args)  # a name set twice is a usage error before any output
    try:
        return args.func(args)
    except bs.SpecError as err:
        _report(err, source=getattr(args, "file", None))
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
