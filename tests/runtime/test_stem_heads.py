"""Stem and heads: shapes, parameter counts (closed forms), names and what they compute."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from blockspec.runtime.config import HeadConfig, StemConfig
from blockspec.runtime.heads import Head
from blockspec.runtime.stem import Stem


def n_params(m: torch.nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


@pytest.mark.parametrize(
    ("patch", "norm", "norm_params"),
    [
        ((4, 4, 1), None, lambda c, d, h, w: 0),
        ((2, 4, 1), "channel_layer", lambda c, d, h, w: 2 * c),
        ((2, 2, 2), "instance2d", lambda c, d, h, w: 0),
        ((4, 2, 1), "batch2d", lambda c, d, h, w: 2 * c),
        ((2, 2, 1), "layer", lambda c, d, h, w: 2 * c * h * w),
    ],
)
def test_stem_shape_and_parameters(patch, norm, norm_params):
    ph, pw, pd = patch
    c_in, c_s, d, h, w = 3, 6, 4, 16, 32
    out_size = (d // pd, h // ph, w // pw)
    stem = Stem(StemConfig(c_in=c_in, c_out=c_s, patch=patch, norm=norm, size=out_size))
    y = stem(torch.randn(2, c_in, d, h, w))
    assert y.shape == (2, c_s, *out_size)
    # one conv with bias, kernel = patch, then the norm's parameters
    expected = c_in * c_s * ph * pw * pd + c_s + norm_params(c_s, *out_size)
    assert n_params(stem) == expected
    assert stem.conv.weight.shape == (c_s, c_in, pd, ph, pw)
    names = {k for k, _ in stem.state_dict().items()}
    assert {"conv.weight", "conv.bias"} <= names
    assert (stem.norm is None) == (norm is None)
    assert f"patch={list(patch)}" in repr(stem) and f"norm={norm or 'none'}" in repr(stem)


def test_stem_is_a_non_overlapping_patch_embedding():
    torch.manual_seed(0)
    stem = Stem(StemConfig(c_in=2, c_out=3, patch=(2, 4, 1), norm=None, size=(1, 2, 2)))
    x = torch.randn(1, 2, 1, 4, 8)
    y = stem(x)
    # output pixel (i, j) sees exactly the patch x[..., 2i:2i+2, 4j:4j+4]
    for i in range(2):
        for j in range(2):
            patch = x[0, :, 0, 2 * i : 2 * i + 2, 4 * j : 4 * j + 4]
            want = torch.einsum("ochw,chw->o", stem.conv.weight[:, :, 0], patch) + stem.conv.bias
            torch.testing.assert_close(y[0, :, 0, i, j], want)


@pytest.mark.parametrize("size", [(1, 8, 8), (4, 6, 10)])
def test_conv_head(size):
    torch.manual_seed(1)
    head = Head(HeadConfig("conv", c_in=5, n=2))
    x = torch.randn(3, 5, *size)
    y = head(x)
    assert y.shape == (3, 2, *size)
    assert n_params(head) == 5 * 2 + 2  # conv1 with bias
    assert set(head.state_dict()) == {"conv.weight", "conv.bias"}
    want = torch.einsum("oc,bcdhw->bodhw", head.conv.weight.flatten(1), x)
    torch.testing.assert_close(y, want + head.conv.bias.view(1, 2, 1, 1, 1))
    assert "out_channels=2" in repr(head)


def test_classify_head_pools_then_linear():
    torch.manual_seed(2)
    head = Head(HeadConfig("classify", c_in=5, n=7))
    x = torch.randn(3, 5, 2, 4, 6)
    y = head(x)
    assert y.shape == (3, 7)
    assert n_params(head) == 5 * 7 + 7  # lin with bias
    assert set(head.state_dict()) == {"fc.weight", "fc.bias"}
    torch.testing.assert_close(y, F.linear(x.mean(dim=(2, 3, 4)), head.fc.weight, head.fc.bias))
    assert "classes=7" in repr(head)


def test_unknown_head_kind_is_rejected():
    with pytest.raises(ValueError, match="head kind"):
        Head(HeadConfig("segment", c_in=2, n=2))
