"""The runtime's fast paths compute what the plain torch ops compute (float64 references)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from blockspec.runtime.layers import FrameConv3d, conv3d_by_frames, conv333

# (input shape, kernel, stride, padding): 3x3x3 convs of the cells, the strided downsampling
# conv, stem patch embeddings; D = 1, 2, 3 and odd sizes included
CASES = [
    ((1, 3, 1, 5, 6), (3, 3, 3), (1, 1, 1), (1, 1, 1)),
    ((1, 3, 2, 5, 6), (3, 3, 3), (1, 1, 1), (1, 1, 1)),
    ((1, 4, 3, 7, 5), (3, 3, 3), (1, 1, 1), (1, 1, 1)),
    ((2, 4, 5, 6, 6), (3, 3, 3), (1, 1, 1), (1, 1, 1)),
    ((1, 2, 4, 8, 6), (3, 3, 3), (2, 2, 2), (1, 1, 1)),
    ((1, 2, 3, 7, 7), (3, 3, 3), (2, 2, 2), (1, 1, 1)),
    ((1, 3, 4, 8, 8), (2, 2, 2), (2, 2, 2), (0, 0, 0)),
    ((1, 3, 3, 8, 8), (1, 4, 4), (1, 4, 4), (0, 0, 0)),
    ((1, 2, 6, 4, 4), (3, 1, 1), (1, 1, 1), (1, 0, 0)),
]


@pytest.mark.parametrize(("shape", "kernel", "stride", "padding"), CASES)
def test_conv3d_by_frames_matches_conv3d(shape, kernel, stride, padding) -> None:
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(shape, generator=gen, dtype=torch.float64, requires_grad=True)
    w = torch.randn((5, shape[1], *kernel), generator=gen, dtype=torch.float64)
    w.requires_grad_(True)
    b = torch.randn(5, generator=gen, dtype=torch.float64, requires_grad=True)
    want = F.conv3d(x, w, b, stride=stride, padding=padding)
    got = conv3d_by_frames(x, w, b, stride, padding)
    assert got.shape == want.shape
    torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)
    g = torch.randn(want.shape, generator=gen, dtype=torch.float64)
    want_grads = torch.autograd.grad(want, (x, w, b), g)
    got_grads = torch.autograd.grad(got, (x, w, b), g)
    for a, e in zip(got_grads, want_grads, strict=True):
        torch.testing.assert_close(a, e, rtol=1e-12, atol=1e-12)


def test_frame_conv3d_keeps_weights_and_matches_in_float32() -> None:
    torch.manual_seed(0)
    plain = nn.Conv3d(4, 6, kernel_size=3, padding=1, bias=True)
    torch.manual_seed(0)
    fast = conv333(4, 6)
    assert isinstance(fast, FrameConv3d)
    assert list(fast.state_dict()) == list(plain.state_dict())
    for key, value in plain.state_dict().items():
        assert torch.equal(fast.state_dict()[key], value)
    x = torch.randn(1, 4, 3, 9, 7)
    assert fast._frames_faster(x)
    want = F.conv3d(x.double(), plain.weight.double(), plain.bias.double(), padding=1)
    torch.testing.assert_close(fast(x).double(), want, rtol=1e-5, atol=1e-5)


def test_frame_conv3d_falls_back_where_torch_is_fast() -> None:
    fast = conv333(4, 6)
    assert not fast._frames_faster(torch.zeros(2, 4, 3, 8, 8))  # batch > 1: oneDNN
    assert not fast._frames_faster(torch.zeros(1, 64, 16, 32, 8))  # N·C·D·H > 20480
    assert not FrameConv3d(4, 6, kernel_size=1)._frames_faster(torch.zeros(1, 4, 3, 8, 8))


def test_conv3d_by_frames_keeps_only_the_input_for_backward() -> None:
    from blockspec.bench import saved_bytes

    x = torch.randn(1, 8, 4, 16, 16, requires_grad=True)
    w = torch.randn(8, 8, 3, 3, 3, requires_grad=True)
    b = torch.randn(8, requires_grad=True)
    ours = saved_bytes(lambda: conv3d_by_frames(x, w, b, (1, 1, 1), (1, 1, 1)))
    theirs = saved_bytes(lambda: F.conv3d(x, w, b, padding=1))
    assert ours <= theirs + w.numel() * 4  # x and the reshaped weight, no 3x stack


def test_conv3d_by_frames_weight_only_gradient() -> None:
    gen = torch.Generator().manual_seed(3)
    x = torch.randn(1, 3, 3, 6, 6, generator=gen, dtype=torch.float64)
    w = torch.randn(4, 3, 3, 3, 3, generator=gen, dtype=torch.float64, requires_grad=True)
    got = torch.autograd.grad(conv3d_by_frames(x, w, None, (1, 1, 1), (1, 1, 1)).sum(), w)[0]
    want = torch.autograd.grad(F.conv3d(x, w, None, padding=1).sum(), w)[0]
    torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)


def test_frame_conv3d_compiles_in_one_graph_with_gradients() -> None:
    torch.manual_seed(0)
    conv = conv333(3, 4)
    x = torch.randn(1, 3, 3, 6, 6, requires_grad=True)
    compiled = torch.compile(conv, backend="aot_eager", fullgraph=True)
    got = torch.autograd.grad(compiled(x).square().sum(), [x, conv.weight])
    want = torch.autograd.grad(conv(x).square().sum(), [x, conv.weight])
    for a, e in zip(got, want, strict=True):
        torch.testing.assert_close(a, e)
