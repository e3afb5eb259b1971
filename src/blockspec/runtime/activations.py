"""Activation functions by name (SEMANTICS.md, Conventions): the name -> module map.

The names are the language's (`blockspec.language.options.ACTIVATIONS`); a test checks the
two lists agree.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from torch import nn

from blockspec.errors import SpecValueError

__all__ = ["ACTIVATION_LAYERS", "build_activation"]

#: name -> a factory of a fresh module. `prelu` has one learned slope per module (init 0.25),
#: `leakyrelu` uses slope 0.1, `gelu` is the tanh approximation, `gelu_erf` the exact GELU.
ACTIVATION_LAYERS: dict[str, Callable[[], nn.Module]] = {
    "elu": nn.ELU,
    "relu": nn.ReLU,
    "leakyrelu": partial(nn.LeakyReLU, 0.1),
    "prelu": partial(nn.PReLU, num_parameters=1, init=0.25),
    "relu6": nn.ReLU6,
    "selu": nn.SELU,
    "celu": nn.CELU,
    "gelu": partial(nn.GELU, approximate="tanh"),
    "gelu_erf": nn.GELU,
}


def build_activation(name: str) -> nn.Module:
    """A fresh activation module for one of the language's activation names."""
    try:
        return ACTIVATION_LAYERS[name]()
    except KeyError:
        raise SpecValueError(f"unknown activation {name!r}") from None
