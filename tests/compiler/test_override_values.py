"""An override of a type no spec can write is refused at its place in <overrides>."""

from __future__ import annotations

import pytest

import blockspec as bs

SPEC = (
    'input { channels = 1, D = 1, H = 8, W = 8 }\nbackbone soanet { channels = 4, stages = ["C2"] }'
)


@pytest.mark.parametrize("value", [None, object(), {"a": 1}, [1, None]])
def test_bad_override_value_points_into_overrides(value) -> None:
    with pytest.raises(bs.SpecError) as info:
        bs.parse(SPEC, overrides={"X": 1, "C": value})
    err = info.value
    assert err.span is not None and err.span.file == "<overrides>"
    assert err.span.line == 2  # the second override
    assert "override C: cannot use a" in err.message
