"""Budgets: refuse a network whose parameters or activation memory exceed a limit, before any
tensor is allocated (the estimates come from `infer`, which only does arithmetic)."""

from __future__ import annotations

from ..errors import BudgetError
from . import ir
from .infer import infer

__all__ = ["DEFAULT_MAX_PARAMS", "DEFAULT_MAX_ACTIVATION_BYTES", "check_budget", "human"]

DEFAULT_MAX_PARAMS = 1e9
DEFAULT_MAX_ACTIVATION_BYTES = 8 * 2**30


def human(n: float, unit: str = "") -> str:
    """1234567 -> '1.23M'; bytes with unit 'B' use powers of 1024."""
    if unit == "B":
        for suffix in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
            if abs(n) < 1024 or suffix == "PiB":
                return f"{n:.0f} {suffix}" if suffix == "B" else f"{n:.2f} {suffix}"
            n /= 1024
    if abs(n) >= 1e18:
        return f"{n:.3g}"
    for suffix in ("", "K", "M", "G", "T", "P"):
        if abs(n) < 1000 or suffix == "P":
            return f"{n:.0f}" if suffix == "" else f"{n:.2f}{suffix}"
        n /= 1000
    return str(n)  # pragma: no cover


def check_budget(net: ir.Network, max_params: float, max_activation_bytes: float) -> None:
    """Raise `BudgetError` pointing at the largest contributor when a budget is exceeded."""
    rows = list(net.stats) or infer(net)
    params = sum(r.stats.params for r in rows)
    memory = sum(r.stats.memory for r in rows)
    for total, limit, attr, what, unit, flag in (
        (params, max_params, "params", "parameters", "", "max_params / --max-params"),
        (
            memory,
            max_activation_bytes,
            "memory",
            "activation memory",
            "B",
            "max_activation_bytes / --max-memory",
        ),
    ):
        if total > limit:
            top = max(rows, key=lambda r: getattr(r.stats, attr))
            span = getattr(top.node, "span", None) or net.input.channels_span
            raise BudgetError(
                f"the network needs {human(total, unit)} {what}, over the budget of "
                f"{human(limit, unit)}; the largest part is {top.path} with "
                f"{human(getattr(top.stats, attr), unit)}",
                span,
                f"make it smaller, or raise the limit ({flag})",
            )
