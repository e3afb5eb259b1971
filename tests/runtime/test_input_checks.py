"""The checks at a compiled network's entry: not a tensor, wrong dtype, batch 0 (issue: these
raised AttributeError, torch's "Input type ... and bias type" from inside a conv, and
ZeroDivisionError from a norm)."""

from __future__ import annotations

import pytest
import torch

import blockspec as bs
from blockspec.errors import ShapeError, SpecError, SpecValueError
from tiny_specs import TINY, example_input, flat


@pytest.fixture(scope="module", params=sorted(TINY))
def model(request) -> torch.nn.Module:
    return bs.compile(TINY[request.param]).eval()


@pytest.mark.parametrize(
    ("make", "what"),
    [
        (lambda x: None, "the input is None"),
        (lambda x: [x], "the input is a builtins.list"),
        (lambda x: x.numpy(), "the input is a numpy.ndarray"),
    ],
)
def test_non_tensor_inputs(model, make, what: str) -> None:
    x = example_input(model)
    with pytest.raises(SpecValueError, match="takes a torch.Tensor") as e:
        model(make(x))
    msg = e.value.message
    assert msg.startswith(what) and "[B, C, D, H, W]" in msg and "float32" in msg
    assert "torch.from_numpy" in e.value.hint


@pytest.mark.parametrize(
    ("dtype", "cast"),
    [
        (torch.float64, "model.double()"),
        (torch.float16, "model.half()"),
        (torch.bfloat16, "model.bfloat16()"),
        (torch.int64, None),
        (torch.bool, None),
    ],
)
def test_wrong_dtype_says_how_to_cast(model, dtype: torch.dtype, cast: str | None) -> None:
    x = example_input(model).to(dtype)
    with pytest.raises(SpecValueError, match="parameters are float32") as e:
        with torch.no_grad():
            model(x)
    assert f"dtype {str(dtype).removeprefix('torch.')}" in e.value.message
    assert "x.float()" in e.value.hint
    if cast:
        assert cast in e.value.hint and "torch.autocast" in e.value.hint
    else:
        assert "autocast" not in e.value.hint  # an integer input cannot be autocast


def test_the_models_own_dtype_is_accepted() -> None:
    model = bs.compile(TINY["soanet"]).eval().double()
    x = example_input(model).double()
    with torch.no_grad():
        assert all(t.dtype == torch.float64 for t in flat(model(x)))
    with pytest.raises(SpecValueError, match="parameters are float64") as e:
        model(x.float())
    assert "x.double()" in e.value.hint


def test_autocast_accepts_other_floating_dtypes() -> None:
    model = bs.compile(TINY["hrnet"]).eval()
    x = example_input(model)
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        assert flat(model(x))
        assert flat(model(x.bfloat16()))
        with pytest.raises(SpecValueError, match="dtype int64"):
            model(x.long())  # integers are never autocast


def test_batch_zero(model) -> None:
    x = example_input(model)[:0]
    with pytest.raises(ShapeError, match="batch size B = 0") as e:
        model(x)
    assert "skip empty batches" in e.value.hint and isinstance(e.value, SpecError)


def test_a_batch_of_one_still_runs(model) -> None:
    with torch.no_grad():
        assert flat(model(example_input(model, batch=1)))
