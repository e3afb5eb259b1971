"""Regressions for defects found by trying blockspec as a new user, and by attacking it:
compiler messages and bounded work."""

from __future__ import annotations

import pytest

import blockspec as bs
from blockspec.api import OverrideText
from blockspec.errors import ShapeError, SpecError, SpecValueError


def _err(text: str, overrides=None) -> SpecError:
    with pytest.raises(SpecError) as info:
        bs.parse(text, overrides)
    return info.value


def test_heads_that_fit_no_level_give_one_error_with_common_divisors():
    text = (
        "input { channels = 1, D = 1, H = 32, W = 32 }\n"
        "cell { heads = 5, window = [8, 8, 1] }\n"
        'backbone unet { channels = 16, levels = 3, blocks = ["L1"] }\n'
    )
    err = _err(text)
    assert isinstance(err, ShapeError)
    assert len(err.errors) == 1, [e.message for e in err.errors]
    assert (err.span.line, err.span.column) == (2, 16)
    assert "16, 32, 64" in err.message and "level0.enc.cell0" in err.message
    # the heads that divide every channel count the written value governs (16, 32, 64, 128)
    assert err.hint.endswith(": 1, 2, 4, 8, 16")


def test_heads_error_for_one_count_names_it():
    text = (
        "input { channels = 1, D = 1, H = 16, W = 16 }\n"
        'backbone soanet { channels = 6, stages = ["L1(heads=4)"] }\n'
    )
    err = _err(text)
    assert err.message.startswith("heads = 4 does not divide the 6 channels at stage0.cell0")
    assert err.hint == "heads that divide 6: 1, 2, 3, 6"


@pytest.mark.parametrize(
    "backbone, most",
    [
        ('unet { channels = 4, levels = 4, blocks = ["C2"] }', "use at most 3 levels"),
        ('hrnet { channels = 4, levels = 5, blocks = ["C2"] }', "use at most 4 levels"),
        ('soanet { channels = 4, stages = ["C2", "C2", "C2", "C2", "C2"] }', "at most 4 stages"),
    ],
)
def test_too_many_levels_say_the_most_that_fit(backbone: str, most: str):
    err = _err(f"input {{ channels = 1, D = 1, H = 24, W = 32 }}\nbackbone {backbone}\n")
    assert isinstance(err, ShapeError)
    assert most in err.hint and "H = 24" in err.hint
    # and the most that fit do compile
    n = int(most.split()[-2])
    fixed = backbone.replace("levels = 4", f"levels = {n}").replace("levels = 5", f"levels = {n}")
    if "stages" in backbone:
        fixed = 'soanet { channels = 4, stages = ["C2", "C2", "C2", "C2"] }'
    bs.parse(f"input {{ channels = 1, D = 1, H = 24, W = 32 }}\nbackbone {fixed}\n")


@pytest.mark.parametrize("value", [32.0, OverrideText("32.0")])
def test_a_float_written_for_an_int_does_not_talk_about_division(value):
    text = 'let C = 16\ninput { channels = 1, D = 1, H = 8, W = 8 }\nbackbone soanet { channels = C, stages = ["C2"] }\n'  # noqa: E501
    err = _err(text, {"C": value})
    assert "/" not in err.hint and "write 32" in err.hint


def test_a_division_still_explains_floor_division():
    text = "input { channels = 1, D = 1, H = 8, W = 8 }\n"
    text += 'backbone soanet { channels = 64 / 2, stages = ["C2"] }\n'
    assert "'//'" in _err(text).hint


@pytest.mark.timeout(60)
def test_a_deep_dynamic_hrnet_is_refused_before_the_work():
    text = (
        "input { channels = 1, D = 1, H = ?, W = ? }\n"
        'backbone hrnet { channels = 4, levels = 60, blocks = ["C2"] }\n'
    )
    err = _err(text)
    assert isinstance(err, SpecValueError)
    assert (err.span.line, err.span.column) == (2, 1 + text.split("\n")[1].index("60"))
    assert "resampling steps" in err.message and "use at most" in err.hint
    most = int(err.hint.split("use at most ")[1].split()[0])
    bs.parse(text.replace("levels = 60", f"levels = {most}"))  # the most allowed compiles


@pytest.mark.parametrize("seed", [2**70, -1, "x", 1.5, True])
def test_a_bad_seed_is_a_clear_error(seed):
    with pytest.raises(SpecValueError, match="seed"):
        bs.compile('input { channels = 1, D = 1, H = 8, W = 8 }\nbackbone soanet { channels = 4, stages = ["C2"] }\n', seed=seed)  # noqa: E501


def test_example_input_fits_the_network():
    import torch

    static = "input { channels = 2, D = 3, H = 8, W = 16 }\n"
    static += 'backbone soanet { channels = 4, stages = ["C2"] }\n'
    model = bs.compile(static).double()
    x = bs.example_input(model, batch=2)
    assert x.shape == (2, 2, 3, 8, 16) and x.dtype == torch.float64
    model(x)  # accepted
    assert torch.equal(bs.example_input(static), bs.example_input(bs.parse(static)))
    dyn = "input { channels = 1, D = 1, H = ?, W = ? }\n"
    dyn += 'cell { window = [4, 4, 1], heads = 1 }\nbackbone unet { channels = 4, levels = 2, blocks = ["L1"] }\n'  # noqa: E501
    net = bs.parse(dyn)
    x = bs.example_input(net)
    assert x.shape[3] == net.input.minimum[1] and x.shape[3] % net.input.step[1] == 0
    bs.compile(net).eval()(x)
    with pytest.raises(SpecValueError, match="batch"):
        bs.example_input(net, batch=0)
