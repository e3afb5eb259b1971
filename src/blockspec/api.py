"""The public Python API: parse, compile, block, summary, format (see DESIGN.md)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

from . import registry
from .compiler import ast as A
from .compiler import ir
from .compiler.budget import (
    DEFAULT_MAX_ACTIVATION_BYTES,
    DEFAULT_MAX_PARAMS,
    RuntimeBudget,
    check_budget,
)
from .compiler.diagnostics import raise_all
from .compiler.infer import infer
from .compiler.outputs import feature_info
from .compiler.overrides import OverrideText, freeze, override_exprs
from .compiler.pipeline import compile_spec, select_features
from .compiler.printer import format_spec
from .compiler.summary import Summary
from .compiler.values import check_limits
from .errors import Span, SpecValueError
from .sources import Source, read_source

__all__ = [
    "parse", "compile", "block", "summary", "format", "read_source", "Summary", "OverrideText",
    "example_input", "create",
]  # fmt: skip


@lru_cache(maxsize=64)
def _parse_text(text: str, file: str, overrides: tuple) -> ir.Network:
    return compile_spec(A.parse_spec(text, file), override_exprs(dict(overrides)))


def parse(
    source: Source, overrides: Mapping[str, Any] | None = None, strict: bool = False
) -> ir.Network:
    """Parse, resolve and validate a spec; returns the typed IR or raises `SpecError`.

    Warnings (`net.warnings`) are raised as errors when `strict`.
    """
    text, file = read_source(source)
    try:
        net = _parse_text(text, file, freeze(overrides))
        if strict:
            raise_all(net.warnings)
        return net
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
    features_only: bool = False,
    out_indices: Sequence[int] | None = None,
):
    """Build the `torch.nn.Module` of a spec (budgets checked before any allocation).

    The module keeps `model.spec` (canonical text), `model.ir` and `model.feature_info`
    (timm's: module, channels and reduction of each backbone output it returns).
    `features_only` drops the head and returns the backbone's outputs; `out_indices`
    selects which (as timm's ``features_only=True, out_indices=...``).
    """
    from .compiler.lower import lower

    seed = _check_seed(seed)
    net = source if isinstance(source, ir.Network) else parse(source, overrides)
    if features_only or out_indices is not None:
        net = select_features(net, features_only, out_indices)
    check_budget(net, max_params, max_activation_bytes)
    model = lower(net, seed=seed)
    if any(isinstance(a, ir.Sym) for a in net.input.size):
        # the budget above held at the smallest size; check each size actually fed too
        model.register_forward_pre_hook(RuntimeBudget(net, max_activation_bytes))
    model.spec = canonical_text(net)
    model.ir = net
    model.seed = seed
    model.budgets = {"max_params": max_params, "max_activation_bytes": max_activation_bytes}
    model.feature_info = feature_info(net)
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


def _check_seed(seed: object) -> int | None:
    """A seed torch accepts (None, or an int in [0, 2**64)), or a clear error."""
    if seed is None:
        return None
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise SpecValueError(
            f"seed must be an integer or None, not {type(seed).__name__} {seed!r}",
            None,
            "pass seed=0 (any int from 0 to 2**64 - 1), or seed=None for torch's own state",
        )
    if not 0 <= seed < 2**64:
        raise SpecValueError(
            f"seed {seed} is out of range", None, "a seed is an integer from 0 to 2**64 - 1"
        )
    return seed


def example_input(
    source: Source | ir.Network | Any, batch: int = 1, seed: int | None = 0, dtype: Any = None
):
    """A random input the network accepts: ``[batch, C, D, H, W]`` at its static size, the
    smallest valid size on dynamic axes; of the model's dtype when given a compiled model."""
    import torch

    net = getattr(source, "ir", source)
    if not isinstance(net, ir.Network):
        net = parse(net)
    if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
        raise SpecValueError(f"batch must be a positive integer, not {batch!r}")
    if dtype is None:
        param = next(iter(source.parameters()), None) if hasattr(source, "parameters") else None
        dtype = param.dtype if param is not None else torch.float32
    d, h, w = ir.concrete(net.input.size, net.input)
    gen = None if seed is None else torch.Generator().manual_seed(_check_seed(seed))
    return torch.randn(batch, net.input.channels, d, h, w, generator=gen, dtype=dtype)


def summary(source: Source | ir.Network, overrides: Mapping[str, Any] | None = None) -> Summary:
    """Shapes, parameters, FLOPs and activation memory per node, with totals."""
    net = source if isinstance(source, ir.Network) else parse(source, overrides)
    return Summary(net, net.stats or tuple(infer(net)))


def create(name: str, *, seed: int | None = 0, overrides: dict | None = None, **lets: Any):
    """Compile packaged spec `name`, its `let`s set by lower-case keywords
    (``classes=10, channels=1, size=96``) and `overrides` (any names or key paths)."""
    known = registry.lets_of(name)
    values = dict(overrides or {})
    for key, value in lets.items():
        let = key.upper()
        if let not in known:
            raise SpecValueError(
                f"@{name} has no let {let} (from {key}=...)",
                None,
                "its lets: " + ", ".join(f"{k.lower()} ({v})" for k, v in known.items()),
            )
        values[let] = value
    return compile(f"@{name}", seed=seed, overrides=values)
