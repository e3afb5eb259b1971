"""Pass: evaluate the `let`s in order, overrides replacing their values by name."""

from __future__ import annotations

from dataclasses import replace

from . import ast as A
from .state import Unit, frozen
from .values import evaluate, evaluate_lets

__all__ = ["run"]


def run(unit: Unit) -> Unit:
    overrides = {name: evaluate(e, {}) for name, e in unit.override_exprs.items()}
    lets = [s for s in unit.spec.statements if isinstance(s, A.Let)]
    env, errors = evaluate_lets(lets, overrides)
    return replace(unit, env=frozen(env)).err(*errors)
