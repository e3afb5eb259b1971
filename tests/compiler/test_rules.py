"""Each validation rule: a spec it accepts compiles and runs; a spec it rejects is refused at
the right place; and the same spec pushed past validation would crash or silently misbehave
in the runtime (so the rule is needed)."""

from __future__ import annotations

import pytest
import torch

import blockspec as bs
from blockspec.compiler.ast import parse_spec
from blockspec.compiler.lower import lower
from blockspec.compiler.pipeline import resolve
from blockspec.errors import BudgetError, ShapeError, SpecError, SpecValueError


def spec(inp: str, cell: str, backbone: str, extra: str = "") -> str:
    return f"input {{ {inp} }}\ncell {{ {cell} }}\n{backbone}\n{extra}"


def unchecked(text: str) -> torch.nn.Module:
    """Lower a spec WITHOUT validation (what would happen if the rule did not exist)."""
    return lower(resolve(parse_spec(text)), seed=0)


def runs(text: str, shape: tuple[int, ...]) -> None:
    model = bs.compile(text).eval()
    with torch.no_grad():
        model(torch.randn(*shape))


def position(text: str, needle: str, nth: int = 0) -> tuple[int, int]:
    i = -1
    for _ in range(nth + 1):
        i = text.index(needle, i + 1)
    line = text.count("\n", 0, i) + 1
    return line, i - (text.rfind("\n", 0, i) + 1) + 1


def rejects(text: str, cls: type[SpecError], needle: str, nth: int = 0) -> SpecError:
    with pytest.raises(cls) as info:
        bs.parse(text)
    err = info.value
    assert (err.span.line, err.span.column) == position(text, needle, nth), str(err)
    assert err.hint
    return err


INP = "channels = 1, D = 1, H = 32, W = 32"


# --------------------------------------------------------------------------- map sizes / levels
def test_levels_accept_and_reject() -> None:
    ok = spec(
        "channels = 1, D = 1, H = 24, W = 24",
        "heads = 2",
        'backbone unet { channels = 4, levels = 2, blocks = ["C2"] }',
    )
    runs(ok, (1, 1, 1, 24, 24))
    bad = ok.replace("levels = 2", "levels = 4")
    rejects(bad, ShapeError, "4, blocks")
    # past validation: 24 -> 12 -> 6 -> 3 cannot be halved (the runtime's own guard, or a
    # size mismatch when the decoder concatenates)
    with pytest.raises((ShapeError, RuntimeError)):
        unchecked(bad)(torch.randn(1, 1, 1, 24, 24))


# --------------------------------------------------------------------------- windows
def test_window_accept_and_reject() -> None:
    ok = spec(
        INP, "window = [8, 8, 1], heads = 2", 'backbone soanet { channels = 4, stages = ["L1"] }'
    )
    runs(ok, (1, 1, 1, 32, 32))
    bad = ok.replace("[8, 8, 1]", "[12, 12, 1]")
    err = rejects(bad, ShapeError, "[12, 12, 1]")
    assert "8" in err.hint and "16" in err.hint
    with pytest.raises((ShapeError, RuntimeError)):
        unchecked(bad)(torch.randn(1, 1, 1, 32, 32))


def test_default_window_points_at_the_input_size() -> None:
    text = spec(
        "channels = 1, D = 1, H = 24, W = 32",
        "heads = 2",
        'backbone soanet { channels = 4, stages = ["L1"] }',
    )
    rejects(text, ShapeError, "24")


# --------------------------------------------------------------------------- heads
def test_heads_accept_and_reject() -> None:
    ok = spec(
        INP, "window = [8, 8, 1], heads = 2", 'backbone soanet { channels = 6, stages = ["L1"] }'
    )
    runs(ok, (1, 1, 1, 32, 32))
    bad = ok.replace("heads = 2", "heads = 4")
    err = rejects(bad, ShapeError, "4")
    assert "3" in err.hint and "6" in err.hint
    with pytest.raises(Exception) as info:  # noqa: B017 - any failure shows the rule is needed
        unchecked(bad)(torch.randn(1, 1, 1, 32, 32))
    assert not isinstance(info.value, SpecError) or isinstance(info.value, ShapeError)


# --------------------------------------------------------------------------- static sizes
def test_position_bias_on_a_dynamic_size() -> None:
    ok = spec(
        "channels = 1, D = 1, H = ?, W = ?",
        "window = [8, 8, 1], heads = 2",
        'backbone soanet { channels = 4, stages = ["L1 G1(rel_pos_bias=false)"] }',
    )
    net = bs.parse(ok)
    assert net.input.step[1:] == (8, 8)
    runs(ok, (1, 1, 1, 16, 24))
    bad = ok.replace("G1(rel_pos_bias=false)", "G1")
    rejects(bad, ShapeError, "G1")
    with pytest.raises(Exception):  # noqa: B017 - a table sized for an unknown map cannot exist
        unchecked(bad)(torch.randn(1, 1, 1, 16, 16))


def test_layer_norm_on_a_dynamic_size() -> None:
    ok = spec(
        "channels = 1, D = 1, H = ?, W = 16",
        "norm = channel_layer, heads = 2",
        'backbone soanet { channels = 4, stages = ["C2"] }',
    )
    runs(ok, (1, 1, 1, 8, 16))
    bad = ok.replace("channel_layer", "layer")
    rejects(bad, ShapeError, "layer")


# --------------------------------------------------------------------------- causal
def test_causal_with_a_frame_mixing_norm() -> None:
    ok = spec(
        "channels = 1, D = 4, H = 8, W = 8",
        "causal = true, heads = 2, norm = instance2d",
        'backbone soanet { channels = 4, stages = ["T1"] }',
    )
    runs(ok, (1, 1, 4, 8, 8))
    bad = ok.replace("instance2d", "batch2d")
    rejects(bad, SpecValueError, "batch2d")
    # past validation it runs, but silently breaks causality: frame 0 sees frame 3 through the
    # batch statistics
    model = unchecked(bad).train()
    x = torch.randn(2, 1, 4, 8, 8)
    y = x.clone()
    y[:, :, 3] += 5.0
    assert not torch.allclose(model(x)[-1][:, :, 0], model(y)[-1][:, :, 0])


# --------------------------------------------------------------------------- temporal stride
def test_temporal_stride() -> None:
    ok = spec(
        "channels = 1, D = 3, H = 8, W = 8",
        "temporal_stride = [2, 2], heads = 2",
        'backbone soanet { channels = 4, stages = ["T1"] }',
    )
    runs(ok, (1, 1, 3, 8, 8))
    bad = ok.replace("[2, 2]", "[3, 3]")
    rejects(bad, ShapeError, "[3, 3]")


# --------------------------------------------------------------------------- mixer width
def test_mixer_width() -> None:
    ok = spec(
        INP, "mixer_ratio = 0.25, heads = 2", 'backbone soanet { channels = 4, stages = ["C2"] }'
    )
    runs(ok, (1, 1, 1, 32, 32))
    bad = ok.replace("0.25", "0.2")
    rejects(bad, SpecValueError, "0.2")
    with pytest.raises(Exception):  # noqa: B017 - a conv with zero channels
        unchecked(bad)(torch.randn(1, 1, 1, 32, 32))


# --------------------------------------------------------------------------- stem
def test_stem_patch() -> None:
    base = 'backbone soanet { channels = 4, stages = ["C2"] }'
    ok = spec(INP, "heads = 2", base, "stem { patch = [4, 4, 1], channels = 4 }")
    runs(ok, (1, 1, 1, 32, 32))
    bad = ok.replace("H = 32", "H = 30")
    rejects(bad, ShapeError, "[4, 4, 1]")
    # past validation the stem's strided conv silently drops the last two rows of the image
    model = unchecked(bad).eval()
    x = torch.randn(1, 1, 1, 30, 32)
    y = x.clone()
    y[..., 29, :] += 10.0
    with torch.no_grad():
        assert torch.equal(model(x)[-1], model(y)[-1])


# --------------------------------------------------------------------------- budgets
@pytest.mark.timeout(10)
def test_a_trillion_parameters_is_refused_fast() -> None:
    text = spec(INP, "heads = 1", 'backbone soanet { channels = 1000000, stages = ["C2C2"] }')
    with pytest.raises(BudgetError) as info:
        bs.compile(text)
    assert info.value.span is not None and info.value.span.line == 3
    assert "budget" in info.value.message


@pytest.mark.timeout(10)
def test_activation_memory_budget() -> None:
    text = spec(
        "channels = 1, D = 64, H = 4096, W = 4096",
        "heads = 1",
        'backbone soanet { channels = 8, stages = ["C2"] }',
    )
    with pytest.raises(BudgetError, match="activation memory"):
        bs.compile(text)


def test_budgets_can_be_changed() -> None:
    text = spec(INP, "heads = 2", 'backbone soanet { channels = 4, stages = ["C2"] }')
    params = bs.summary(text).totals.params
    with pytest.raises(BudgetError):
        bs.compile(text, max_params=params - 1)
    assert sum(p.numel() for p in bs.compile(text, max_params=params).parameters()) == params
