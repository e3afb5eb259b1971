"""The command line's inputs and messages: `-` for standard input, file names that are not
UTF-8, `--color`/NO_COLOR, `--depth`, `--set` twice, override errors naming their file, the
ok/failed count, a summary over budget, help texts and the subcommand registry.

Most calls run `blockspec.cli.main` in this process with strict UTF-8 streams (as a terminal
or pipe with a UTF-8 locale has); two go through a real `python -m blockspec` subprocess.
"""

from __future__ import annotations

import argparse
import io
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

import blockspec as bs
from blockspec import cli

ROOT = Path(__file__).resolve().parents[2]
ESC = "\x1b["
SMALL = (
    "let C = 8\n"
    "input { channels = 1, D = 1, H = 16, W = 16 }\n"
    'backbone soanet { channels = C, stages = ["C2"] }\n'
)
NO_LETS = (
    "input { channels = 1, D = 1, H = 16, W = 16 }\n"
    'backbone soanet { channels = 8, stages = ["C2"] }\n'
)
BROKEN = SMALL.replace('"C2"', '"X9"')


class _Stream(io.TextIOWrapper):
    """A strict UTF-8 text stream over bytes; `tty` says whether it claims to be a terminal."""

    def __init__(self, data: bytes = b"", tty: bool = False) -> None:
        super().__init__(io.BytesIO(data), encoding="utf-8", errors="strict", newline="")
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty

    def text(self) -> str:
        self.flush()
        return self.buffer.getvalue().decode("utf-8")  # type: ignore[attr-defined]


@dataclass
class Result:
    code: int
    out: str
    err: str


def call(
    monkeypatch: pytest.MonkeyPatch, *argv: object, stdin: bytes = b"", tty: bool = False
) -> Result:
    """`blockspec ARGV` in this process; a usage error's SystemExit becomes its code."""
    out, err = _Stream(), _Stream(tty=tty)
    with monkeypatch.context() as m:
        m.setattr(sys, "stdin", _Stream(stdin))
        m.setattr(sys, "stdout", out)
        m.setattr(sys, "stderr", err)
        try:
            code = cli.main([os.fspath(a) if isinstance(a, Path) else str(a) for a in argv])
        except SystemExit as stop:
            code = stop.code if isinstance(stop.code, int) else 1
    return Result(code, out.text(), err.text())


@pytest.fixture
def specs(tmp_path: Path) -> dict[str, Path]:
    files = {"small": SMALL, "no_lets": NO_LETS, "broken": BROKEN}
    out = {}
    for name, text in files.items():
        out[name] = tmp_path / f"{name}.bspec"
        out[name].write_text(text, encoding="utf-8")
    return out


# -- standard input ----------------------------------------------------------------------


def test_dash_reads_the_spec_from_stdin(monkeypatch: pytest.MonkeyPatch) -> None:
    params = bs.summary(SMALL).totals.params
    r = call(monkeypatch, "check", "-", stdin=SMALL.encode())
    assert (r.code, r.out) == (0, f"<stdin>: ok (1 cells, {params:,} params)\n"), r.err
    r = call(monkeypatch, "check", "-", stdin=b"\xef\xbb\xbf" + SMALL.encode())  # a BOM
    assert r.code == 0 and r.out.startswith("<stdin>: ok"), r.err
    r = call(monkeypatch, "fmt", "-", stdin=SMALL.replace(" = ", "=").encode())
    assert (r.code, r.out) == (0, bs.format(SMALL)), r.err
    r = call(monkeypatch, "summary", "-", "--json", stdin=SMALL.encode())
    assert r.code == 0 and '"params"' in r.out, r.err


def test_dash_errors_name_stdin(monkeypatch: pytest.MonkeyPatch) -> None:
    r = call(monkeypatch, "check", "-", stdin=BROKEN.encode())
    assert r.code == 1
    assert re.search(r"^<stdin>:3:\d+: error: .*X9", r.err, re.M), r.err
    r = call(monkeypatch, "fmt", "-w", "-", stdin=SMALL.encode())
    assert r.code == 2 and "standard input" in r.err


def test_stdin_through_a_real_pipe() -> None:
    p = subprocess.run(
        [sys.executable, "-m", "blockspec", "check", "-"],
        input=SMALL.encode(),
        capture_output=True,
        cwd=ROOT,
        timeout=120,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    assert p.returncode == 0, p.stderr.decode()
    assert p.stdout.decode().startswith("<stdin>: ok (1 cells")


# -- file names that are not UTF-8 -------------------------------------------------------


def test_a_name_that_is_not_utf8_is_printed_with_a_replacement(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    name = os.fsdecode(os.fsencode(str(tmp_path)) + b"/net\xff.bspec")
    Path(name).write_text(SMALL, encoding="utf-8")
    shown = f"{tmp_path}/net\ufffd.bspec"
    r = call(monkeypatch, "check", name)
    assert r.code == 0, r.err
    assert r.out.startswith(f"{shown}: ok (")
    model = tmp_path / "m.pt"
    r = call(monkeypatch, "compile", name, "-o", model)
    assert r.code == 0, r.err
    assert r.out.strip().endswith(f"from {shown}") and model.is_file()
    broken = os.fsdecode(os.fsencode(str(tmp_path)) + b"/bad\xfe.bspec")
    Path(broken).write_text(BROKEN, encoding="utf-8")
    r = call(monkeypatch, "check", broken)
    assert r.code == 1 and f"{tmp_path}/bad\ufffd.bspec:3:" in r.err


def test_a_name_that_is_not_utf8_with_a_strict_stdout(tmp_path: Path) -> None:
    name = os.fsencode(str(tmp_path)) + b"/net\xff.bspec"
    Path(os.fsdecode(name)).write_text(SMALL, encoding="utf-8")
    p = subprocess.run(
        [sys.executable, "-m", "blockspec", "check", os.fsdecode(name)],
        capture_output=True,
        cwd=ROOT,
        timeout=120,
        env={**os.environ, "PYTHONWARNINGS": "ignore", "PYTHONIOENCODING": "utf-8:strict"},
    )
    assert p.returncode == 0, p.stderr.decode()
    assert b"Traceback" not in p.stderr
    assert p.stdout.decode("utf-8").startswith(f"{tmp_path}/net\ufffd.bspec: ok (")


# -- colour --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv, tty, no_color, coloured",
    [
        ((), True, None, True),
        ((), True, "", True),  # NO_COLOR set but empty: no effect (no-color.org)
        ((), True, "1", False),
        ((), False, None, False),
        (("--color", "never"), True, None, False),
        (("--color", "always"), False, None, True),
        (("--color", "always"), True, "1", True),  # the option wins over the environment
        (("--color", "auto"), True, "1", False),
    ],
)
def test_colour(
    monkeypatch: pytest.MonkeyPatch,
    specs: dict[str, Path],
    argv: tuple[str, ...],
    tty: bool,
    no_color: str | None,
    coloured: bool,
) -> None:
    if no_color is None:
        monkeypatch.delenv("NO_COLOR", raising=False)
    else:
        monkeypatch.setenv("NO_COLOR", no_color)
    r = call(monkeypatch, "check", specs["broken"], *argv, tty=tty)
    assert r.code == 1 and "X9" in r.err
    assert (ESC in r.err) is coloured, r.err
    assert ESC not in r.out


def test_colour_option_before_the_command(
    monkeypatch: pytest.MonkeyPatch, specs: dict[str, Path]
) -> None:
    r = call(monkeypatch, "--color", "always", "check", specs["broken"])
    assert r.code == 1 and ESC in r.err
    r = call(monkeypatch, "check", specs["broken"], "--color", "sometimes")
    assert r.code == 2 and "always" in r.err


# -- summary -------------------------------------------------------------------------------


@pytest.mark.parametrize("depth", ["0", "-1", "x"])
def test_summary_depth_must_be_positive(
    monkeypatch: pytest.MonkeyPatch, specs: dict[str, Path], depth: str
) -> None:
    r = call(monkeypatch, "summary", specs["small"], "--depth", depth)
    assert r.code == 2, r.out
    assert "--depth" in r.err and r.out == ""


def test_summary_over_budget_prints_the_table_then_the_error(
    monkeypatch: pytest.MonkeyPatch, specs: dict[str, Path]
) -> None:
    params = bs.summary(SMALL).totals.params
    r = call(monkeypatch, "summary", specs["small"], "--max-params", "10")
    assert r.code == 1
    assert r.out.strip() == bs.summary(SMALL).table().strip()
    assert f"{params:,}" in r.out
    assert "over the budget" in r.err and "--max-params" in r.err


# -- overrides -----------------------------------------------------------------------------


def test_a_name_set_twice_is_a_usage_error(
    monkeypatch: pytest.MonkeyPatch, specs: dict[str, Path]
) -> None:
    r = call(monkeypatch, "check", specs["small"], "--set", "C=16", "--set", "C=32")
    assert r.code == 2 and r.out == ""
    assert "C=16" in r.err and "C=32" in r.err and "twice" in r.err


def test_override_errors_name_their_file_and_check_counts(
    monkeypatch: pytest.MonkeyPatch, specs: dict[str, Path]
) -> None:
    small, no_lets = specs["small"], specs["no_lets"]
    r = call(monkeypatch, "check", small, no_lets, "--set", "C=16")
    assert r.code == 1
    assert f"<overrides of {no_lets}>:1:" in r.err and "'C'" in r.err, r.err
    assert f"<overrides of {small}>" not in r.err
    lines = r.out.splitlines()
    assert lines[0].startswith(f"{small}: ok (")
    assert lines[-1] == "1 ok, 1 failed"
    r = call(monkeypatch, "check", small, small, specs["broken"])
    assert r.out.splitlines()[-1] == "2 ok, 1 failed"
    r = call(monkeypatch, "check", small)
    assert len(r.out.splitlines()) == 1  # one file: no count


# -- help and the registry ---------------------------------------------------------------

INTERNAL = re.compile(
    r"\bissues?\b|#\d+|\b(DESIGN|SEMANTICS|LANGUAGE|STYLE|BRIEF\w*)\.md|\bTODO\b|\bFIXME\b|"
    r"\bhelper\b|\blead\b",
    re.I,
)


def test_help_texts_have_no_internal_words() -> None:
    parser = cli.build_parser()
    texts = [parser.format_help()]
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    texts += [sp.format_help() for sp in sub.choices.values()]
    assert len(texts) == 1 + len(cli.COMMANDS)
    for text in texts:
        assert not INTERNAL.search(text), INTERNAL.search(text)


def test_a_registered_command_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    seen = {}

    def add_arguments(p):
        p.add_argument("--times", type=int, default=1)

    def run(args):
        seen["times"] = args.times
        print("ran", args.times)
        return 3

    monkeypatch.setattr(cli, "COMMANDS", list(cli.COMMANDS))
    cli.register(cli.Command("demo-extra", "a command added by another module", add_arguments, run))
    with pytest.raises(ValueError, match="already registered"):
        cli.register(cli.Command("check", "again", add_arguments, run))
    r = call(monkeypatch, "demo-extra", "--times", "2")
    assert (r.code, r.out, seen) == (3, "ran 2\n", {"times": 2})


# -- fmt and compile arguments -----------------------------------------------------------


def test_fmt_treats_a_byte_order_mark_as_not_canonical(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    f = tmp_path / "bom.bspec"
    canon = bs.format(SMALL)
    f.write_bytes(b"\xef\xbb\xbf" + canon.encode())
    r = call(monkeypatch, "fmt", f)
    assert (r.code, r.out) == (0, canon), r.err
    r = call(monkeypatch, "fmt", "--check", f)
    assert r.code == 1 and f"{f}: not formatted" in r.err
    r = call(monkeypatch, "fmt", "-w", f)
    assert r.code == 0, r.err
    assert f.read_bytes() == canon.encode()


@pytest.mark.timeout(60)
def test_fmt_of_a_fifo_is_an_error_not_a_hang(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    fifo = tmp_path / "pipe.bspec"
    os.mkfifo(fifo)
    for argv in (("fmt", fifo), ("check", fifo)):
        r = call(monkeypatch, *argv)
        assert r.code == 1 and "FIFO" in r.err, r.err


@pytest.mark.parametrize("value", [str(2**70), str(-(2**63) - 1), "x"])
def test_compile_seed_out_of_range_is_a_usage_error(
    monkeypatch: pytest.MonkeyPatch, specs: dict[str, Path], tmp_path: Path, value: str
) -> None:
    r = call(monkeypatch, "compile", specs["small"], "-o", tmp_path / "m.pt", "--seed", value)
    assert r.code == 2 and "--seed" in r.err and "Traceback" not in r.err
    assert not (tmp_path / "m.pt").exists()


def test_a_command_from_a_module(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "extra_command_mod.py").write_text(
        "import blockspec.cli\n"  # a command module may import the CLI itself
        "def add_arguments(p):\n    p.add_argument('word')\n"
        "def run(args):\n    print('said', args.word)\n    return 0\n",
        encoding="utf-8",
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(cli, "COMMANDS", list(cli.COMMANDS))
    cli.register(cli.Command.from_module("say", "say a word", "extra_command_mod", "say hi"))
    r = call(monkeypatch, "say", "hi")
    assert (r.code, r.out) == (0, "said hi\n"), r.err
    assert "say a word" in call(monkeypatch, "--help").out


def test_set_takes_key_paths(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    f = tmp_path / "unet.bspec"
    f.write_text(
        "let C = 4\ninput { channels = 1, D = 1, H = 32, W = 32 }\n"
        'backbone unet { channels = C, levels = 3, blocks = ["C2"] }\n',
        encoding="utf-8",
    )
    r = call(monkeypatch, "check", f, "--set", "backbone.levels=2", "--set", "C=8")
    assert r.code == 0, r.err
    net = bs.parse(f, {"backbone.levels": 2, "C": 8})
    assert len(net.backbone.levels) == 2
    assert f"{bs.summary(net).totals.params:,} params" in r.out
    r = call(monkeypatch, "check", f, "--set", "backbone.levels=2", "--set", "backbone.levels=3")
    assert r.code == 2 and "twice" in r.err
    r = call(monkeypatch, "check", f, "--set", "backbone..levels=2")
    assert r.code == 2 and "NAME=VALUE" in r.err
