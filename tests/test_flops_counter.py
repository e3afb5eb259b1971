"""The summary's FLOPs are what torch's own FLOP counter sees when the module runs.

`torch.utils.flop_counter.FlopCounterMode` counts 2 per multiply-add of every matmul,
convolution and attention product that actually executes, so it is an independent check of
the compiler's arithmetic (docs/semantics.md, "Counting parameters, FLOPs and memory").
The counter has no formula for the fused CPU attention kernel, so the forward runs with
SDPA's math backend, whose matmuls it counts (the numbers are the same products).
"""

from __future__ import annotations

import pytest
import torch

import blockspec as bs
from blockspec.compiler.summary import figures_at
from blockspec.registry import list_specs, spec_text
from torch_flops import counted_flops

# the small packaged specs run in the fast suite; the published replicas are larger
_LARGE = {"swin_t", "swin_s", "vit_b16", "vit_s16", "monai_swin_encoder", "monai_vit"}


def _check(name: str) -> None:
    text = spec_text(name)
    summary = bs.summary(text)
    x = torch.randn(1, *figures_at(summary.network))
    assert counted_flops(bs.compile(text, seed=0), x)[0] == summary.totals.flops


@pytest.mark.parametrize("name", [n for n in list_specs() if n not in _LARGE])
def test_summary_flops_equal_torch_counter(name: str) -> None:
    _check(name)


@pytest.mark.slow
@pytest.mark.parametrize("name", [n for n in list_specs() if n in _LARGE])
def test_summary_flops_equal_torch_counter_published(name: str) -> None:
    _check(name)
