"""Property 3: a spec with one known defect raises the expected class at the expected place."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from blockspec.testing import NearMiss, near_miss_specs
from blockspec.testing.properties import check_near_miss
from blockspec.testing.strategies import NEAR_MISS_KINDS

from ._helpers import scaled

#: kinds where the compiler disagrees with LANGUAGE.md (see the report / test_regressions.py)
COMPILER_DISAGREES: dict[str, str] = {}


@pytest.mark.parametrize(
    "kind",
    [
        pytest.param(k, marks=pytest.mark.xfail(strict=True, reason=COMPILER_DISAGREES[k]))
        if k in COMPILER_DISAGREES
        else k
        for k in NEAR_MISS_KINDS
    ],
)
@scaled(0.4)
@given(data=st.data())
def test_near_miss_is_located(kind: str, data: st.DataObject) -> None:
    nm: NearMiss = data.draw(near_miss_specs(kinds=[kind]), label="near miss")
    check_near_miss(nm)
