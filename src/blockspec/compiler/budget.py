"""Budgets: refuse a network whose parameters or activation memory exceed a limit, before any
tensor is allocated (the estimates come from `infer`, which only does arithmetic)."""

from __future__ import annotations

from dataclasses import replace

from ..errors import BudgetError
from . import ir
from .infer import infer

__all__ = [
    "DEFAULT_MAX_PARAMS", "DEFAULT_MAX_ACTIVATION_BYTES", "check_budget", "human", "at_size",
    "RuntimeBudget",
]  # fmt: skip

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


def at_size(net: ir.Network, size: tuple[int, int, int]) -> ir.Network:
    """The network's figures at input `size` (D, H, W) instead of the smallest valid one."""
    inp = replace(net.input, minimum=tuple(size))  # `concrete` evaluates dynamic axes there
    at = replace(net, input=inp, stats=())
    return replace(at, stats=tuple(infer(at)))


class RuntimeBudget:
    """A forward pre-hook for specs with dynamic sizes: before anything is allocated, the
    activation memory of a training forward at the size actually fed (times the batch) is
    checked against the budget the spec was compiled with, as a `BudgetError`.

    Sizes the network refuses anyway are left to its own input check; each size is checked
    once. Inference (no grad) keeps no activations for backward and is not checked.
    """

    def __init__(self, net: ir.Network, max_activation_bytes: float) -> None:
        self.net = net
        self.limit = max_activation_bytes
        self.seen: dict[tuple[int, ...], int] = {}

    def _fits(self, size: tuple[int, ...]) -> bool:
        inp = self.net.input
        for axis in range(3):
            if isinstance(inp.size[axis], ir.Sym):
                n = size[axis]
                if n < inp.minimum[axis] or n % inp.step[axis]:
                    return False
        return True

    def __call__(self, module, args) -> None:
        import torch

        x = args[0] if args else None
        if not isinstance(x, torch.Tensor) or x.dim() != 5 or not torch.is_grad_enabled():
            return
        size = tuple(int(n) for n in x.shape[2:])
        if not self._fits(size):
            return
        if size not in self.seen:
            self.seen[size] = sum(r.stats.memory for r in at_size(self.net, size).stats)
        need = self.seen[size] * int(x.shape[0])
        if need > self.limit:
            shape = [int(x.shape[0]), int(x.shape[1]), *size]
            raise BudgetError(
                f"at input {shape} a training forward needs about {human(need, 'B')} of "
                f"activations, over the budget of {human(self.limit, 'B')}",
                None,
                "feed a smaller input or batch, run under torch.no_grad() for inference, or "
                "compile with a larger max_activation_bytes / --max-memory",
            )
