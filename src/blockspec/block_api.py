"""`bs.block(...)`: one `Block` from a block string, checked in terms of the call's arguments.

The call is written as a small internal spec (one argument a line) so that the language's
defaults and checks apply unchanged; every value is validated and written as a literal, never
pasted as text, so nothing passed in can become spec syntax. Errors found in that spec are
re-pointed at the argument that caused them, shown in a rendering of the call itself
(file ``<bs.block>``), and the budget is checked before any tensor is allocated.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from .errors import Span, SpecError, SpecValueError

__all__ = ["build_block"]

CALL = "<bs.block>"
_VALUE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_KEY = re.compile(r"[a-z_][a-z0-9_]*")
_SEED_RANGE = (-(2**63), 2**64 - 1)  # what torch.manual_seed accepts


@dataclass(frozen=True)
class _Arg:
    """One argument of the call: its name, its place in the rendered call, its line in the spec."""

    name: str
    start: int  # column (1-based) of the argument in the rendered call
    text: str  # the argument as rendered, e.g. heads=4
    value_start: int  # column of its value


def _refuse(message: str, hint: str | None = None) -> SpecValueError:
    return SpecValueError(f"bs.block: {message}", None, hint)


def _literal(name: str, v: Any) -> str:
    """`v` as a spec literal, or a `SpecValueError` naming the argument."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if not math.isfinite(v):
            raise _refuse(f"{name} = {v!r} is not a finite number")
        return repr(v)
    if isinstance(v, str):
        if not _VALUE_NAME.fullmatch(v) or v in ("true", "false"):
            raise _refuse(
                f"{name} = {v!r} is not a value name",
                "string values are names such as 'layer' or 'gelu'; use True/False for booleans",
            )
        return v
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_literal(name, x) for x in v) + "]"
    raise _refuse(
        f"{name} = {v!r}: cannot use a {type(v).__name__} as a value",
        "cell keys take numbers, bools, value names and lists",
    )


def _size(name: str, v: Any) -> str:
    if isinstance(v, bool) or not isinstance(v, int):
        raise _refuse(f"{name} must be an int, not {type(v).__name__} {v!r}")
    return str(v)


class _Call:
    """The rendered call and the internal spec, with the map between their places."""

    def __init__(self, text: str, sizes: dict[str, int], cell: dict[str, Any]) -> None:
        parts: list[tuple[str, str, str]] = [("text", "", repr(text))]
        parts += [(k, f"{k}=", repr(v)) for k, v in sizes.items()]
        parts += [(k, f"{k}=", repr(v)) for k, v in cell.items()]
        self.args: dict[str, _Arg] = {}
        col = len("bs.block(") + 1
        rendered = []
        for name, prefix, value in parts:
            self.args[name] = _Arg(name, col, prefix + value, col + len(prefix))
            rendered.append(prefix + value)
            col += len(prefix + value) + 2
        self.source = "bs.block(" + ", ".join(rendered) + ")"
        self.text = text
        spec_lines = ["input {"]
        self.lines: dict[int, str] = {}  # spec line -> argument name
        for key, arg in (("channels", "C_in"), ("D", "D"), ("H", "H"), ("W", "W")):
            spec_lines.append(f"  {key} = {_size(arg, sizes[arg])}")
            self.lines[len(spec_lines)] = arg
        spec_lines += ["}", "cell {"]
        for key, v in cell.items():
            spec_lines.append(f"  {key} = {_literal(key, v)}")
            self.lines[len(spec_lines)] = key
        spec_lines += ["}", "backbone soanet {"]
        spec_lines.append(f"  channels = [{_size('C_out', sizes['C_out'])}]")
        self.lines[len(spec_lines)] = "C_out"
        self.stages_prefix = '  stages = ["'
        spec_lines.append(f'{self.stages_prefix}{text}"]')
        self.lines[len(spec_lines)] = "text"
        spec_lines.append("}")
        self.spec = "\n".join(spec_lines) + "\n"

    def span(self, sp: Span | None) -> Span:
        """The place in the rendered call of a place in the internal spec."""
        name = self.lines.get(sp.line, "text") if sp is not None else "text"
        arg = self.args[name]
        if name == "text" and sp is not None and repr(self.text)[1:-1] == self.text:
            inside = sp.column - len(self.stages_prefix) - 1  # offset into the block string
            if 0 <= inside <= len(self.text):
                length = max(1, min(sp.length, len(self.text) - inside))
                return Span(1, arg.start + 1 + inside, length, CALL, self.source)
        value_len = len(arg.text) - (arg.value_start - arg.start)
        return Span(1, arg.value_start, value_len, CALL, self.source)

    def message(self, err: SpecError) -> str:
        """The message in the call's words: C_in/C_out for channels, cells by their place."""
        msg = err.message
        name = self.lines.get(err.span.line) if err.span is not None else None
        if name in ("C_in", "C_out"):
            msg = re.sub(r"\bchannels\b", name, msg)
        msg = re.sub(r"the (\d+) channels", lambda m: self._channels(int(m.group(1))), msg)
        msg = re.sub(r"\s*\bat stage0\.cell(\d+)\b", lambda m: f" in cell {m.group(1)}", msg)
        msg = re.sub(r"\bstage0\.cell(\d+)\b", lambda m: f"cell {m.group(1)}", msg)
        msg = re.sub(r"\bstage0\b", "the block", msg)
        msg = msg.replace("the network needs", "the block needs")
        msg = re.sub(r"unknown key '(.+)' in cell$", r"unknown cell key '\1'", msg)
        msg = msg.replace("cell {}", "the cell keys")
        return f"bs.block: {msg}"

    def _channels(self, n: int) -> str:
        return f"C_out = {n}" if self.args["C_out"].text == f"C_out={n}" else f"{n} channels"

    def translate(self, err: SpecError) -> SpecError:
        """The same error (same class, all of them) about the call's arguments."""
        out = []
        for e in err.errors or [err]:
            hint = e.hint and re.sub(r" / --max-[a-z]+", "", e.hint)
            new = type(e)(self.message(e), self.span(e.span), hint)
            out.append(new)
        first = out[0]
        first.errors = out
        return first


def build_block(
    text: str,
    sizes: dict[str, Any],
    seed: int | None,
    cell: dict[str, Any],
    max_params: float,
    max_activation_bytes: float,
):
    """The `Block` of `bs.block`; see `blockspec.api.block`."""
    if not isinstance(text, str):
        raise _refuse(f"the block string must be a str, not {type(text).__name__}")
    if '"' in text or "\n" in text or "\r" in text:
        raise _refuse(
            f"the block string {text!r} cannot hold a quote or a line break",
            'write cells, groups and repetitions, e.g. "T1L1G1" or "(S3Sh)*2"',
        )
    for key in cell:
        if not _KEY.fullmatch(key):
            raise _refuse(f"{key!r} is not a cell key", "cell keys are lowercase names")
    if seed is not None and (
        isinstance(seed, bool)
        or not isinstance(seed, int)
        or not _SEED_RANGE[0] <= seed <= _SEED_RANGE[1]
    ):
        raise _refuse(
            f"seed = {seed!r} is not a valid seed", "use None or an int in [-2**63, 2**64)"
        )
    call = _Call(text, sizes, cell)

    from .api import parse
    from .compiler.budget import check_budget

    try:
        net = parse(call.spec)
        check_budget(net, max_params, max_activation_bytes)
    except SpecError as err:
        raise call.translate(err) from None
    from .compiler.lower import lower_block

    return lower_block(net.backbone.stages[0], seed)  # type: ignore[union-attr]
