"""Resampling: shapes, parameter counts, and what each method computes."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from blockspec.errors import ShapeError
from blockspec.runtime.config import ResampleConfig
from blockspec.runtime.sampling import Resample, space_to_depth, upsample


def n_params(m: torch.nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


def down(method: str, channels: tuple[int, ...], depth: bool = False) -> Resample:
    return Resample(ResampleConfig("down", method, channels, depth=depth))


def up(method: str, c_in: int, c_out: int, factor: int = 2, depth: bool = False) -> Resample:
    return Resample(ResampleConfig("up", method, (c_in, c_out), factor=factor, depth=depth))


@pytest.mark.parametrize("depth", [False, True])
@pytest.mark.parametrize("method", ["interpolate", "stride", "merge"])
@pytest.mark.parametrize("channels", [(3, 5), (3, 5, 7), (2, 4, 8, 16)])
def test_down_shapes_and_parameter_counts(method, channels, depth):
    torch.manual_seed(0)
    m = down(method, channels, depth)
    k = len(channels) - 1
    x = torch.randn(2, channels[0], 2**k * 2, 2**k * 3, 2**k * 4)
    y = m(x)
    d = x.shape[2] // 2**k if depth else x.shape[2]
    assert y.shape == (2, channels[-1], d, x.shape[3] // 2**k, x.shape[4] // 2**k)
    # closed forms from SEMANTICS.md, one term per step c_i -> c_{i+1}
    pairs = list(zip(channels[:-1], channels[1:], strict=True))
    if method == "interpolate":  # conv1 with bias
        expected = sum(ci * co + co for ci, co in pairs)
    elif method == "stride":  # conv3 (conv333 with depth) with bias
        expected = sum(ci * co * (27 if depth else 9) + co for ci, co in pairs)
    else:  # space-to-depth then conv1 without bias
        expected = sum(ci * (8 if depth else 4) * co for ci, co in pairs)
    assert n_params(m) == expected
    assert [n for n, _ in m.named_children()] == [f"step{i}" for i in range(k)]
    assert all(hasattr(getattr(m, f"step{i}"), "conv") for i in range(k))


def test_space_to_depth_order_is_c_dh_dw_c_outermost():
    b, c, d, h, w = 2, 3, 2, 4, 6
    x = torch.arange(b * c * d * h * w, dtype=torch.float32).reshape(b, c, d, h, w)
    y = space_to_depth(x)
    expected = torch.empty(b, 4 * c, d, h // 2, w // 2)
    for ci in range(c):
        for dh in range(2):
            for dw in range(2):
                expected[:, (ci * 2 + dh) * 2 + dw] = x[:, ci, :, dh::2, dw::2]
    assert torch.equal(y, expected)


def test_space_to_depth_with_depth_order_is_c_dh_dw_dd():
    b, c, d, h, w = 1, 2, 4, 4, 2
    x = torch.randn(b, c, d, h, w)
    y = space_to_depth(x, depth=True)
    expected = torch.empty(b, 8 * c, d // 2, h // 2, w // 2)
    for ci in range(c):
        for dh in range(2):
            for dw in range(2):
                for dd in range(2):
                    idx = ((ci * 2 + dh) * 2 + dw) * 2 + dd
                    for i in range(d // 2):
                        for j in range(h // 2):
                            for k in range(w // 2):
                                expected[0, idx, i, j, k] = x[
                                    0, ci, 2 * i + dd, 2 * j + dh, 2 * k + dw
                                ]
    assert torch.equal(y, expected)


def test_merge_step_is_conv1_without_bias_on_the_folded_channels():
    torch.manual_seed(1)
    m = down("merge", (3, 5))
    assert m.step0.conv.bias is None
    x = torch.randn(2, 3, 2, 8, 8)
    folded = space_to_depth(x)
    w = m.step0.conv.weight.reshape(5, 12)
    expected = torch.einsum("oc,bcdhw->bodhw", w, folded)
    torch.testing.assert_close(m(x), expected)


def test_interpolate_down_is_per_frame_bilinear_then_conv1():
    torch.manual_seed(2)
    m = down("interpolate", (3, 4))
    x = torch.randn(2, 3, 5, 8, 12)
    frames = x.permute(0, 2, 1, 3, 4).reshape(10, 3, 8, 12)
    half = F.interpolate(frames, scale_factor=0.5, mode="bilinear", align_corners=False)
    # bilinear x1/2 of an even map is the mean of each 2x2 neighbourhood
    torch.testing.assert_close(half, F.avg_pool2d(frames, 2))
    half = half.reshape(2, 5, 3, 4, 6).permute(0, 2, 1, 3, 4)
    expected = F.conv3d(half, m.step0.conv.weight, m.step0.conv.bias)
    torch.testing.assert_close(m(x), expected)


def test_interpolate_down_with_depth_averages_2x2x2():
    torch.manual_seed(3)
    m = down("interpolate", (2, 2), depth=True)
    x = torch.randn(1, 2, 4, 8, 8)
    expected = F.conv3d(F.avg_pool3d(x, 2), m.step0.conv.weight, m.step0.conv.bias)
    torch.testing.assert_close(m(x), expected)


def test_stride_down_is_per_frame_conv3_stride_2():
    torch.manual_seed(4)
    m = down("stride", (3, 4))
    assert m.step0.conv.weight.shape == (4, 3, 3, 3)  # a per-frame (Conv2d) weight
    x = torch.randn(2, 3, 3, 8, 8)
    frames = x.permute(0, 2, 1, 3, 4).reshape(6, 3, 8, 8)
    y = F.conv2d(frames, m.step0.conv.weight, m.step0.conv.bias, stride=2, padding=1)
    expected = y.reshape(2, 3, 4, 4, 4).permute(0, 2, 1, 3, 4)
    torch.testing.assert_close(m(x), expected)


def test_stride_down_with_depth_is_conv333():
    m = down("stride", (3, 4), depth=True)
    assert m.step0.conv.weight.shape == (4, 3, 3, 3, 3)
    assert m(torch.randn(1, 3, 4, 8, 8)).shape == (1, 4, 2, 4, 4)


@pytest.mark.parametrize("depth", [False, True])
@pytest.mark.parametrize("factor", [2, 4, 8])
@pytest.mark.parametrize("method", ["linear", "nearest"])
def test_up_shapes_and_parameter_counts(method, factor, depth):
    m = up(method, 6, 3, factor, depth)
    x = torch.randn(2, 6, 2, 2, 3)
    y = m(x)
    assert y.shape == (2, 3, 2 * factor if depth else 2, 2 * factor, 3 * factor)
    assert n_params(m) == 6 * 3 + 3  # conv1 with bias
    assert [n for n, _ in m.named_children()] == ["conv"]


def test_up_linear_is_per_frame_bilinear_then_conv1():
    torch.manual_seed(5)
    m = up("linear", 3, 2, factor=4)
    x = torch.randn(2, 3, 3, 4, 5)
    frames = x.permute(0, 2, 1, 3, 4).reshape(6, 3, 4, 5)
    big = F.interpolate(frames, scale_factor=4, mode="bilinear", align_corners=False)
    big = big.reshape(2, 3, 3, 16, 20).permute(0, 2, 1, 3, 4)
    torch.testing.assert_close(m(x), F.conv3d(big, m.conv.weight, m.conv.bias))


def test_up_nearest_repeats_pixels():
    x = torch.randn(1, 2, 2, 3, 3)
    y = upsample(x, 2, "nearest")
    expected = x.repeat_interleave(2, dim=3).repeat_interleave(2, dim=4)
    assert torch.equal(y, expected)
    y = upsample(x, 2, "nearest", depth=True)
    assert torch.equal(y, expected.repeat_interleave(2, dim=2))


@pytest.mark.parametrize("method", ["interpolate", "stride", "merge"])
def test_down_refuses_odd_sizes_with_shape_error(method):
    m = down(method, (2, 2))
    with pytest.raises(ShapeError, match="W = 7"):
        m(torch.randn(1, 2, 1, 8, 7))
    m = down(method, (2, 2), depth=True)
    with pytest.raises(ShapeError, match="D = 3"):
        m(torch.randn(1, 2, 3, 8, 8))


def test_bad_configs_are_rejected():
    with pytest.raises(ValueError, match="downsample method"):
        down("avgpool", (2, 2))
    with pytest.raises(ValueError, match="upsample method"):
        up("cubic", 2, 2)
    with pytest.raises(ValueError, match="direction"):
        Resample(ResampleConfig("sideways", "linear", (2, 2)))


def test_extra_repr_says_what_the_spec_said():
    assert "merge" in repr(down("merge", (2, 4, 8)))
    assert "2 -> 4 -> 8" in repr(down("merge", (2, 4, 8)))
    r = repr(up("nearest", 8, 4, factor=4))
    assert "x4" in r and "nearest" in r and "8 -> 4" in r
