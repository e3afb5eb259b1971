"""The public Python API: parse, compile, block, summary, format (see DESIGN.md)."""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from .compiler import ast as A
from .compiler import ir
from .compiler.budget import DEFAULT_MAX_ACTIVATION_BYTES, DEFAULT_MAX_PARAMS, check_budget
from .compiler.infer import NodeStats, infer, totals
from .compiler.printer import format_expr, format_spec
from .compiler.resolve import resolve
from .compiler.validate import validate
from .compiler.values import check_limits, evaluate
from .errors import Span, SpecError, SpecSyntaxError, SpecValueError

__all__ = ["parse", "compile", "block", "summary", "format", "read_source", "Summary"]

Source = str | os.PathLike


def read_source(source: Source) -> tuple[str, str]:
    """(text, file name) of a source: a path, or spec text (a one-line str ending in .bspec is a
    path)."""
    if isinstance(source, os.PathLike) or (
        isinstance(source, str) and "\n" not in source and source.strip().endswith(".bspec")
    ):
        path = Path(source)
        try:
            return path.read_text(encoding="utf-8"), str(source)
        except FileNotFoundError:
            raise SpecValueError(
                f"no such spec file: {path}", None, "check the path (specs end in .bspec)"
            ) from None
        except UnicodeDecodeError as exc:
            raise SpecSyntaxError(f"{path} is not UTF-8 text ({exc.reason})") from None
        except OSError as exc:
            raise SpecValueError(f"cannot read {path}: {exc.strerror}") from None
    if not isinstance(source, str):
        raise TypeError(f"a spec source is a path or a str, not {type(source).__name__}")
    return source, "<string>"


def _override_exprs(overrides: Mapping[str, Any] | None) -> dict[str, A.Expr]:
    """API/CLI overrides as expressions; each gets a line of the pseudo-file <overrides>.

    Keeping them as expressions lets the canonical text (`model.spec`) carry them.
    """
    if not overrides:
        return {}
    lines = []
    for name, v in overrides.items():
        if isinstance(v, OverrideText):
            text = v.text
        else:  # written as the spec would write it: true, [8, 8, 1], "T1L1"
            text = format_expr(_python_expr(v, Span(1, 1, 1, "<overrides>", "")))
        lines.append(f"{name}={text}")
    source = "\n".join(lines)
    out: dict[str, A.Expr] = {}
    for i, (name, v) in enumerate(overrides.items(), start=1):
        span = Span(
            i, len(name) + 2, max(1, len(lines[i - 1]) - len(name) - 1), "<overrides>", source
        )
        out[name] = v.parse(i, source) if isinstance(v, OverrideText) else _python_expr(v, span)
    return out


def _python_expr(obj: Any, span: Span) -> A.Expr:
    """A Python override value as the expression that writes it."""
    if isinstance(obj, bool):
        return A.BoolLit(obj, span)
    if isinstance(obj, int | float):
        if isinstance(obj, float) and not math.isfinite(obj):
            raise SpecValueError(f"{obj} is not a finite number", span)
        lit = (
            A.IntLit(abs(obj), str(abs(obj)), span)
            if isinstance(obj, int)
            else A.FloatLit(abs(obj), repr(abs(obj)), span)
        )
        return A.Neg(lit, span) if obj < 0 else lit
    if isinstance(obj, str):
        if '"' in obj or "\n" in obj:
            raise SpecValueError("a string value cannot hold a quote or a new line", span)
        return A.StrLit(obj, span)
    if isinstance(obj, list | tuple):
        return A.ListExpr(tuple(_python_expr(o, span) for o in obj), span)
    raise SpecValueError(
        f"cannot use a {type(obj).__name__} as a value",
        span,
        "overrides take numbers, bools, strings and lists",
    )


@dataclass(frozen=True)
class OverrideText:
    """An override written as text (``--set C=64``): the value is parsed as an expression."""

    text: str

    def parse(self, line: int, source: str) -> A.Expr:
        """The value as an expression placed on `line` of the <overrides> pseudo-file."""
        start = source.split("\n")[line - 1].index("=") + 2  # column of the value
        here = Span(line, start, max(1, len(self.text)), "<overrides>", source)
        if "\n" in self.text or not self.text.strip():
            raise SpecSyntaxError(
                "an override is one expression on one line", here, "write NAME=VALUE, e.g. C=64"
            )
        dcol = start - 1 - len("let _=")
        try:
            spec = A.parse_spec(f"let _={self.text}", "<overrides>")
        except SpecError as err:
            sp = err.span or here
            err.span = Span(line, max(start, sp.column + dcol), sp.length, "<overrides>", source)
            err.errors = [err]
            raise err from None
        if len(spec.statements) != 1:
            raise SpecSyntaxError(
                "an override is one expression", here, "write NAME=VALUE, e.g. C=64"
            )
        expr = spec.statements[0].value  # type: ignore[union-attr]
        return _shift(expr, line, dcol, source)


def _shift(expr: A.Expr, line: int, dcol: int, source: str) -> A.Expr:
    """Move an expression parsed from a one-line override to its place in <overrides>."""

    def fix(sp: Span) -> Span:
        return Span(line, sp.column + dcol, sp.length, "<overrides>", source)

    changes: dict[str, Any] = {"span": fix(expr.span)}
    if isinstance(expr, A.BinOp):
        changes.update(
            left=_shift(expr.left, line, dcol, source),
            right=_shift(expr.right, line, dcol, source),
            op_span=fix(expr.op_span),
        )
    elif isinstance(expr, A.Neg):
        changes["operand"] = _shift(expr.operand, line, dcol, source)
    elif isinstance(expr, A.ListExpr):
        changes["items"] = tuple(_shift(i, line, dcol, source) for i in expr.items)
    return dataclasses.replace(expr, **changes)


@lru_cache(maxsize=64)
def _parse_text(text: str, file: str, overrides: tuple) -> ir.Network:
    spec = A.parse_spec(text, file)
    exprs = _override_exprs(dict(overrides))
    net = validate(resolve(spec, {name: evaluate(e, {}) for name, e in exprs.items()}))
    # the canonical text carries the overrides, so it rebuilds this very network
    stmts = tuple(
        dataclasses.replace(st, value=exprs[st.name])
        if isinstance(st, A.Let) and st.name in exprs
        else st
        for st in spec.statements
    )
    return dataclasses.replace(net, text=format_spec(dataclasses.replace(spec, statements=stmts)))


def _freeze(overrides: Mapping[str, Any] | None) -> tuple:
    """Overrides as a hashable key (for the parse cache), their types checked first."""
    if not overrides:
        return ()
    if not isinstance(overrides, Mapping):
        raise SpecValueError("overrides must be a mapping of let names to values")

    def check(name: object, v: object) -> None:
        if not isinstance(name, str):
            raise SpecValueError(f"an override names a let by a str, not {name!r}")
        if isinstance(v, list | tuple):
            for item in v:
                check(name, item)
        elif not isinstance(v, bool | int | float | str | OverrideText):
            raise SpecValueError(
                f"override {name}: cannot use a {type(v).__name__} as a value",
                None,
                "overrides take numbers, bools, strings and lists",
            )

    for name, v in overrides.items():
        check(name, v)

    def fz(v):
        return tuple(fz(x) for x in v) if isinstance(v, list | tuple) else v

    return tuple((k, fz(v)) for k, v in overrides.items())


def parse(source: Source, overrides: Mapping[str, Any] | None = None) -> ir.Network:
    """Parse, resolve and validate a spec; returns the typed IR or raises `SpecError`."""
    text, file = read_source(source)
    try:
        return _parse_text(text, file, _freeze(overrides))
    except RecursionError:  # pragma: no cover - every limit is checked before recursing
        raise SpecValueError("the spec nests too deeply", Span(1, 1, 1, file, text)) from None


def format(source: Source) -> str:  # noqa: A001 - the public name DESIGN.md gives it
    """The canonical text of a spec, comments kept (syntax and expression limits are checked,
    values are not)."""
    text, file = read_source(source)
    spec = A.parse_spec(text, file)
    for expr in _expressions(spec):
        check_limits(expr)  # the printer recurses: refuse what the evaluator would refuse
    return format_spec(spec)


def _expressions(spec: A.Spec):
    """Every top-level expression of a spec (let values and entry values)."""
    stack: list = list(spec.statements)
    while stack:
        node = stack.pop()
        if isinstance(node, (A.Let, A.Entry)):
            yield node.value
        elif isinstance(node, (A.Section, A.Sub)):
            stack.extend(node.items)


def canonical_text(net: ir.Network) -> str:
    """The canonical spec text of a parsed network, its overrides written into the lets."""
    return net.text or (format_spec(A.parse_spec(net.source, net.file)) if net.source else "")


def compile(  # noqa: A001 - the public name DESIGN.md gives it
    source: Source | ir.Network,
    seed: int | None = 0,
    overrides: Mapping[str, Any] | None = None,
    max_params: float = DEFAULT_MAX_PARAMS,
    max_activation_bytes: float = DEFAULT_MAX_ACTIVATION_BYTES,
):
    """Build the `torch.nn.Module` of a spec (budgets checked before any allocation).

    The module keeps `model.spec` (canonical text) and `model.ir`.
    """
    from .compiler.lower import lower

    net = source if isinstance(source, ir.Network) else parse(source, overrides)
    check_budget(net, max_params, max_activation_bytes)
    model = lower(net, seed=seed)
    model.spec = canonical_text(net)
    model.ir = net
    model.seed = seed
    return model


def block(
    text: str,
    C_in: int,
    C_out: int,
    H: int,
    W: int,
    D: int = 1,
    seed: int | None = 0,
    max_params: float = DEFAULT_MAX_PARAMS,
    max_activation_bytes: float = DEFAULT_MAX_ACTIVATION_BYTES,
    **cell: Any,
):
    """One `Block` from a block string with the language defaults (and `cell` keys) applied.

    Every argument is checked and written as a literal (nothing passed in becomes spec text);
    errors name the call's own arguments; the budgets are checked before any allocation.
    """
    from .block_api import build_block

    sizes = {"C_in": C_in, "C_out": C_out, "H": H, "W": W, "D": D}
    return build_block(text, sizes, seed, cell, max_params, max_activation_bytes)


@dataclass(frozen=True)
class Summary:
    """Per-node shapes and costs of a network; `str()` is the table."""

    network: ir.Network
    rows: tuple[NodeStats, ...]

    @property
    def totals(self):
        return totals(list(self.rows))

    def to_dict(self) -> dict:
        from .compiler.summary import summary_dict

        return summary_dict(self)

    def table(self, depth: int | None = None) -> str:
        from .compiler.summary import summary_table

        return summary_table(self, depth)

    def __str__(self) -> str:
        return self.table()


def summary(source: Source | ir.Network, overrides: Mapping[str, Any] | None = None) -> Summary:
    """Shapes, parameters, FLOPs and activation memory per node, with totals."""
    net = source if isinstance(source, ir.Network) else parse(source, overrides)
    return Summary(net, tuple(infer(net)))
