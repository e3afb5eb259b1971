"""The compiler as a pipeline of small passes: the one place that knows their order.

Each pass is a pure function ``Unit -> Unit`` in its own module (sqlglot's `RULES` is the
model). The passes of a phase all run, whatever errors earlier ones found, so every mistake
is reported at once; between phases the collected errors are raised, sorted by position.

1. resolve: `paths` (key-path overrides rewrite entries), `evaluate` (lets and overrides),
   `sections` (entries and cell parameters), `frame` (input and stem), `topology` (the
   backbone's skeleton), `blocks` (block strings), `cells` (parameters layered, windows
   sized, blocks built), `head`, then the network;
2. validate: the shape and value rules of `validate.RULES`;
3. finish: `dynamic` (steps of dynamic sizes), `infer` (shapes and costs), `lint`
   (warnings, never fatal here), canonical text.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace

from ..errors import SpecValueError
from . import ast as A
from . import (
    blocks,
    cells,
    dynamic,
    evaluate,
    frame,
    head,
    infer,
    ir,
    lint,
    outputs,
    paths,
    sections,
    topology,
)
from . import validate as rules
from .diagnostics import raise_all
from .printer import format_spec
from .state import Unit, frozen

__all__ = ["PHASES", "compile_spec", "resolve", "select_features"]

Pass = Callable[[Unit], Unit]


def network(unit: Unit) -> Unit:
    """Pass: the network record from the resolved parts."""
    if unit.errors or unit.input is None or unit.backbone is None:
        return unit
    spec = unit.spec
    net = ir.Network(
        unit.input, unit.stem, unit.backbone, unit.head, spec.file, spec.source, heads=unit.heads
    )
    return replace(unit, network=net)


def canonical(unit: Unit) -> Unit:
    """Pass: the canonical text, overrides written into their `let`s, so `model.spec`
    rebuilds this very network."""
    assert unit.network is not None
    exprs = unit.override_exprs
    spec = unit.printed or unit.spec
    stmts = tuple(
        replace(st, value=exprs[st.name]) if isinstance(st, A.Let) and st.name in exprs else st
        for st in spec.statements
    )
    text = format_spec(replace(spec, statements=stmts))
    return replace(unit, network=replace(unit.network, text=text))


RESOLVE: tuple[Pass, ...] = (
    paths.run,
    evaluate.run,
    sections.run,
    frame.run,
    topology.run,
    blocks.run,
    cells.run,
    head.run,
    network,
)
VALIDATE: tuple[Pass, ...] = (rules.run,)
FINISH: tuple[Pass, ...] = (dynamic.run, infer.run, lint.run, canonical)
PHASES: tuple[tuple[Pass, ...], ...] = (RESOLVE, VALIDATE, FINISH)


def _run(unit: Unit, phases) -> Unit:
    for phase in phases:
        for step in phase:
            unit = step(unit)
        raise_all(unit.errors)
    return unit


def compile_spec(spec: A.Spec, overrides: Mapping[str, A.Expr] | None = None) -> ir.Network:
    """A parsed spec (and override expressions by `let` name) -> the validated, inferred IR;
    raises the first of all errors found, carrying all of them."""
    unit = _run(Unit(spec, override_exprs=frozen(overrides or {})), PHASES)
    assert unit.network is not None
    return unit.network


def resolve(spec: A.Spec, overrides: Mapping[str, A.Expr] | None = None) -> ir.Network:
    """The resolve phase alone: the IR before validation (tests use it to show what the
    runtime would do without a rule)."""
    unit = _run(Unit(spec, override_exprs=frozen(overrides or {})), (RESOLVE,))
    assert unit.network is not None
    return unit.network


def select_features(
    net: ir.Network, features_only: bool, out_indices: Sequence[int] | None
) -> ir.Network:
    """The network returning backbone outputs `out_indices` (all when None), its heads
    dropped when `features_only`; shapes and costs inferred again."""
    n = len(outputs.backbone_outputs(net.backbone))
    picked = None
    if out_indices is not None:
        picked = tuple(out_indices)
        bad = [i for i in picked if isinstance(i, bool) or not isinstance(i, int) or not 0 <= i < n]
        if bad or not picked or len(set(picked)) != len(picked):
            raise SpecValueError(
                f"out_indices {list(picked)} do not select distinct outputs of the {n} this "
                f"{net.backbone.kind} returns",
                None,
                f"give distinct indices from 0 to {n - 1}",
            )
    head, heads = (None, ()) if features_only else (net.head, net.heads)
    if heads and picked is not None:
        heads = tuple(heads[i] for i in picked)
    chosen = replace(net, head=head, heads=heads, out_indices=picked, stats=())
    return replace(chosen, stats=tuple(infer.infer(chosen)))
