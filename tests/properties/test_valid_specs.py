"""Properties 2 and 5: valid specs compile and run as inferred; compiling is deterministic."""

from __future__ import annotations

import pytest
import torch
from hypothesis import assume, event, given
from hypothesis import strategies as st

from blockspec.testing import SpecText, specs
from blockspec.testing.properties import check_determinism, check_valid_spec

from ._helpers import known_bug, scaled

BACKBONES = ["soanet", "unet", "hrnet"]


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _run(spec: SpecText) -> None:
    for f in sorted(spec.features):
        event(f)
    assume(known_bug(spec) is None)  # each has a strict xfail in test_regressions.py
    check_valid_spec(spec)


@pytest.mark.parametrize("backbone", BACKBONES)
@scaled(0.6)
@given(data=st.data())
def test_static_specs_run_as_inferred(backbone: str, data: st.DataObject) -> None:
    _run(data.draw(specs(backbone=backbone), label="spec"))


@pytest.mark.parametrize("backbone", BACKBONES)
@scaled(0.4)
@given(data=st.data())
def test_dynamic_specs_run_as_inferred(backbone: str, data: st.DataObject) -> None:
    _run(data.draw(specs(backbone=backbone, dynamic=True), label="spec"))


@scaled(0.4)
@given(specs())
def test_same_seed_same_weights(spec: SpecText) -> None:
    check_determinism(spec)
