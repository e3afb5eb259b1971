"""The strategies themselves: argument validation, and block strings expand as generated."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis.errors import InvalidArgument

import blockspec as bs
from blockspec.testing import block_strings, cells, near_miss_specs, specs
from blockspec.testing.strategies import _GENERIC_OVERRIDES, ALL_CODES, _block

from ._helpers import scaled


@pytest.mark.parametrize(
    "make",
    [
        lambda: block_strings(min_cells=0),
        lambda: block_strings(min_cells=3, max_cells=2),
        lambda: block_strings(max_cells=2.5),
        lambda: block_strings(codes=["L1", "X9"]),
        lambda: block_strings(codes=[]),
        lambda: cells(codes=["Q1"]),
        lambda: specs(backbone="resnet"),
        lambda: specs(dims="4d"),
        lambda: specs(dynamic="yes"),
        lambda: specs(max_params=10),
        lambda: specs(max_cells=0),
        lambda: near_miss_specs(kinds=["nonsense"]),
    ],
)
def test_bad_arguments_are_refused(make) -> None:
    with pytest.raises(InvalidArgument):
        make().validate()


_TEMPLATE = """\
input {{ channels = 1, D = 2, H = 8, W = 8 }}
cell {{ window = [2, 2, 2], patch = [1, 1, 1], window_sizing = keep_window_size, heads = 1 }}
backbone soanet {{ channels = 4, stages = ["{block}"] }}
"""


@scaled(1)
@given(_block(1, 6, ALL_CODES, _GENERIC_OVERRIDES))
def test_block_strings_expand_as_generated(case: tuple[str, list[str]]) -> None:
    text, codes = case
    net = bs.parse(_TEMPLATE.format(block=text))
    assert [c.config.code for c in net.cells()] == codes


def test_a_small_budget_draws_within_it_and_passes_the_health_checks():
    """`specs(max_params=50_000)` draws within the budget rather than filtering (no health
    check suppressed here, unlike the suite's profile)."""
    from hypothesis import HealthCheck, given
    from hypothesis import settings as hsettings

    import blockspec as bs
    from blockspec.testing.strategies import specs

    seen = []

    @hsettings(max_examples=25, deadline=None, database=None, suppress_health_check=())
    @given(specs(max_params=50_000))
    def draw(spec):
        seen.append(bs.summary(spec.text).totals.params)

    draw()
    assert seen and HealthCheck.filter_too_much is not None
    assert max(seen) < 200_000  # the rough estimate keeps them small
