"""Cell parameters: checking `cell { }`, level/stage entries and per-cell overrides.

Every key's type, default and reach come from `language.CELL_KEYS`; this module only turns
written values into `Param`s (value + where it was set) and reports what does not fit.
"""

from __future__ import annotations

from collections.abc import Mapping

from ..errors import SpecError, SpecValueError
from ..language import CELL_KEYS, MIXER_KEYS, families_where
from . import ast as A
from . import ir
from .diagnostics import did_you_mean, divisors
from .entries import checker, convert
from .state import Entries, Param
from .values import Symbol, Value, evaluate

__all__ = ["cell_params", "override_params", "check_patch_divides", "applies"]

_CHECKS = {k: checker(key.type) for k, key in CELL_KEYS.items()}
_REACH = {k: families_where(key.applies) for k, key in CELL_KEYS.items()}


def applies(key: str, family: str) -> bool:
    """Whether cell key `key` means something to `family`."""
    return family in _REACH[key]


def cell_params(entries: Entries, layer: str, errs: list[SpecError]) -> dict[str, Param]:
    """The cell keys of a section or level/stage entry, checked, with their origin."""
    out: dict[str, Param] = {}
    for key, val in entries.values.items():
        if key not in CELL_KEYS:
            continue
        n = len(errs)
        converted = convert(entries, key, _CHECKS[key], errs)
        if len(errs) > n:  # refused (a value may read as None: `norm_eps = none`)
            continue
        out[key] = Param(converted, ir.Origin(layer, val.span, val.let))
    check_patch_divides(out, errs)
    return out


def check_patch_divides(params: Mapping[str, Param], errs: list[SpecError]) -> None:
    """The patch must divide the window when both are written in the same place."""
    if "window" in params and "patch" in params:
        w: tuple = params["window"].value  # type: ignore[assignment]
        p: tuple = params["patch"].value  # type: ignore[assignment]
        for i, axis in enumerate("HWD"):
            if w[i] % p[i]:
                errs.append(
                    SpecValueError(
                        f"patch {p[i]} does not divide window {w[i]} along {axis}",
                        params["patch"].origin.span,
                        f"a patch along {axis} must divide {w[i]}: " + divisors(w[i]),
                    )
                )
                break


def override_params(
    cell: A.BCell, family: str, has_mixer: bool, errs: list[SpecError]
) -> dict[str, Param]:
    """The overrides written on one cell (``L1(heads=4)``), checked against its family."""
    out: dict[str, Param] = {}
    for ov in cell.overrides:
        spec = CELL_KEYS.get(ov.key)
        if spec is None:
            errs.append(
                SpecValueError(
                    f"unknown cell key '{ov.key}'",
                    ov.key_span,
                    did_you_mean(ov.key, [k for k, s in CELL_KEYS.items() if not s.block_level]),
                )
            )
            continue
        if spec.block_level:
            errs.append(
                SpecValueError(
                    f"'{ov.key}' is a block-level key and cannot be set per cell",
                    ov.key_span,
                    f"set {ov.key} in cell {{}} or in a level/stage entry",
                )
            )
            continue
        if not applies(ov.key, family) or (ov.key in MIXER_KEYS and not has_mixer):
            errs.append(
                SpecValueError(
                    f"'{ov.key}' has no effect on a {cell.code} cell",
                    ov.key_span,
                    "remove the override",
                )
            )
            continue
        if ov.key in out:
            errs.append(SpecValueError(f"duplicate override '{ov.key}'", ov.key_span))
            continue
        try:
            val = evaluate(ov.value, {})
            if isinstance(val.v, Symbol) and val.v in ("true", "false"):
                val = Value(val.v == "true", val.span)
            out[ov.key] = Param(_CHECKS[ov.key](val, ov.key), ir.Origin("override", val.span))
        except SpecError as e:
            errs.append(e)
    check_patch_divides(out, errs)
    return out
