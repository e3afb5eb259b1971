"""`bs.block(...)`: nothing passed in becomes spec text, errors name the call's arguments,
and the budgets are checked before anything is allocated."""

from __future__ import annotations

import pytest
import torch

import blockspec as bs
from blockspec.errors import BudgetError, ShapeError, SpecError, SpecValueError

BASE = {"C_in": 8, "C_out": 32, "H": 16, "W": 16}


def refused(*args, **kw) -> SpecError:
    with pytest.raises(SpecError) as info:
        bs.block(*args, **kw)
    return info.value


@pytest.mark.parametrize(
    ("text", "kw"),
    [
        ('L1"] }\ncell { heads = 2', {}),  # closes the literal and writes a section
        ("L1\nlet X = 1", {}),
        ("L1", {"norm": "layer }\nbackbone unet { levels = 2"}),
        ("L1", {"norm": 'layer"'}),
        ("L1", {"activation": "gelu, heads = 2"}),
        ("L1", {"window": [8, "8 ] , heads = [2"]}),
        ("L1", {"C_in": "8 }"}),
        ("L1", {"H": "16, W = 16 } cell { heads = 2"}),
        ("L1", {"heads": "2"}),
    ],
)
def test_values_never_become_spec_text(text: str, kw: dict) -> None:
    args = {**BASE, **kw}
    err = refused(text, **args)
    assert isinstance(err, SpecValueError)
    assert err.message.startswith("bs.block:")


def test_a_cell_key_must_be_a_key() -> None:
    err = refused("L1", **BASE, **{"heads = 2, norm": 4})
    assert "is not a cell key" in err.message


def test_errors_name_the_arguments_of_the_call() -> None:
    err = refused("T1L1G1", C_in=8, C_out=32, H=16, W=16, heads=5)
    assert isinstance(err, ShapeError)
    assert err.message.startswith("bs.block: heads = 5 does not divide C_out = 32")
    assert "stage0" not in err.message
    assert err.span.file == "<bs.block>"
    shown = err.render()
    assert "bs.block('T1L1G1', C_in=8, C_out=32, H=16, W=16, D=1, heads=5)" in shown
    assert "soanet" not in shown and "backbone" not in shown
    caret = shown.splitlines()[2]
    assert caret.index("^") == shown.splitlines()[1].index("heads=5") + len("heads=")


def test_a_bad_code_points_into_the_block_string_argument() -> None:
    err = refused("L1X1", **BASE)
    assert (err.span.column, err.span.length) == (len("bs.block('L1") + 1, 2)
    assert err.span.source[err.span.column - 1 :].startswith("X1'")  # the X1 of 'L1X1'


def test_channels_are_named_by_their_argument() -> None:
    err = refused("L1", C_in=0, C_out=32, H=16, W=16)
    assert "C_in must be at least 1" in err.message
    err = refused("L1", C_in=8, C_out=0, H=16, W=16)
    assert "C_out" in err.message


def test_the_budget_is_checked_before_allocating() -> None:
    err = refused("C2", C_in=8, C_out=10**6, H=16, W=16)  # 72T parameters
    assert isinstance(err, BudgetError) and "parameters" in err.message
    err = refused("G1", C_in=8, C_out=32, H=4096, W=4096)  # 16 TiB of attention
    assert isinstance(err, BudgetError) and "activation memory" in err.message
    err = refused("C2", C_in=8, C_out=64, H=16, W=16, max_params=1000)
    assert isinstance(err, BudgetError)
    assert bs.block("C2", C_in=8, C_out=64, H=16, W=16, max_params=10**6) is not None


def test_an_invalid_seed_is_named() -> None:
    for seed in (2**70, "x", 1.5, True):
        err = refused("L1", **BASE, seed=seed)
        assert "seed" in err.message


def test_valid_calls_build_the_same_block_as_before() -> None:
    blk = bs.block("T1L1G1", C_in=8, C_out=16, H=16, W=16, D=4, window=(8, 8, 1), heads=4,
                   norm="layer", dropout=0.0, cosine=False)  # fmt: skip
    assert blk(torch.randn(1, 8, 4, 16, 16)).shape == (1, 16, 4, 16, 16)
    again = bs.block("T1L1G1", C_in=8, C_out=16, H=16, W=16, D=4, window=[8, 8, 1], heads=4,
                     norm="layer", dropout=0.0, cosine=False)  # fmt: skip
    for (ka, a), (kb, b) in zip(blk.state_dict().items(), again.state_dict().items(), strict=True):
        assert ka == kb and torch.equal(a, b)


def test_a_code_before_a_group_in_a_block_call() -> None:
    blk = bs.block("C2(C2)*2", C_in=4, C_out=4, H=8, W=8)
    assert blk(torch.randn(1, 4, 1, 8, 8)).shape == (1, 4, 1, 8, 8)
