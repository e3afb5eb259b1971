"""Activation functions by name (SEMANTICS.md, Conventions)."""

from __future__ import annotations

from torch import nn

from blockspec.errors import SpecValueError

__all__ = ["build_activation"]


def build_activation(name: str) -> nn.Module:
    """A fresh activation module for one of `config.ACTIVATIONS`.

    `prelu` has one learned slope per module (init 0.25); `leakyrelu` uses slope 0.1;
    `gelu` is the tanh approximation.
    """
    if name == "elu":
        return nn.ELU()
    if name == "relu":
        return nn.ReLU()
    if name == "leakyrelu":
        return nn.LeakyReLU(0.1)
    if name == "prelu":
        return nn.PReLU(num_parameters=1, init=0.25)
    if name == "relu6":
        return nn.ReLU6()
    if name == "selu":
        return nn.SELU()
    if name == "celu":
        return nn.CELU()
    if name == "gelu":
        return nn.GELU(approximate="tanh")
    raise SpecValueError(f"unknown activation {name!r}")
