"""Small shared operations: per-frame and 3D convolutions, drop-path, size checks.

Every op takes and returns ``[B, C, D, H, W]``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from blockspec.errors import ShapeError
from blockspec.runtime.config import FAMILIES_3D, CellConfig

__all__ = [
    "Conv3",
    "DropPath",
    "FrameConv3d",
    "conv3d_by_frames",
    "conv3",
    "conv333",
    "family_conv",
    "require_multiple",
    "token_shape",
]


class Conv3(nn.Conv2d):
    """`conv3`: a 3x3 convolution applied to every frame, zero padding 1, with bias.

    The weight is a plain ``Conv2d`` weight ``[C_out, C_in, 3, 3]``; frames are folded into the
    batch (much faster on CPU than a ``(1, 3, 3)`` Conv3d). ``stride`` acts on (H, W).
    """

    def __init__(
        self, c_in: int, c_out: int, stride: tuple[int, int] = (1, 1), bias: bool = True
    ) -> None:
        super().__init__(c_in, c_out, kernel_size=3, stride=stride, padding=1, bias=bias)

    def forward(self, x: Tensor) -> Tensor:  # [B, C, D, H, W] -> [B, C_out, D, H', W']
        b, c, d, h, w = x.shape
        frames = x.transpose(1, 2).reshape(b * d, c, h, w)
        y = F.conv2d(frames, self.weight, self.bias, self.stride, self.padding)
        return y.reshape(b, d, y.shape[1], y.shape[2], y.shape[3]).transpose(1, 2)


def conv3(c_in: int, c_out: int, stride: tuple[int, int] = (1, 1), bias: bool = True) -> Conv3:
    """Per-frame 3x3 conv, with bias unless ``bias`` is false: 9·c_in·c_out + c_out
    parameters (without the c_out of the bias)."""
    return Conv3(c_in, c_out, stride, bias)


#: torch (``ConvParams::use_mkldnn``) sends a CPU conv3d with a small kernel at batch 1 to its
#: slow native kernel (``slow_conv3d``) when N·C·D·H is at most this; above it oneDNN runs it
_SLOW_CONV3D_MAX = 20480


def _stack_frames(x: Tensor, kd: int, sd: int, pd: int) -> Tensor:
    """``[B, C, D, H, W]`` -> ``[B·D', kd·C, H, W]``: the kd (zero-padded) frames under each
    output frame's kernel, stacked along channels, frame offset outermost."""
    b, c, _, h, w = x.shape
    if pd:
        x = F.pad(x, (0, 0, 0, 0, pd, pd))
    frames = x.unfold(2, kd, sd)  # [B, C, D', H, W, kd]
    return frames.permute(0, 2, 5, 1, 3, 4).reshape(b * frames.shape[2], kd * c, h, w)


class _FramesConv(torch.autograd.Function):
    """The 2D conv of `conv3d_by_frames` that saves only ``x`` (not the kd-times larger
    stack) for the backward, and rebuilds the stack there: training memory as conv3d's."""

    @staticmethod
    def forward(ctx, x, w2, bias, kd, sd, pd, stride, padding):  # noqa: ANN001, ANN205
        ctx.save_for_backward(x, w2)
        ctx.conv = (kd, sd, pd, stride, padding, bias is not None)
        return F.conv2d(_stack_frames(x, kd, sd, pd), w2, bias, stride, padding)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, gy):  # noqa: ANN001, ANN205
        x, w2 = ctx.saved_tensors
        kd, sd, pd, stride, padding, has_bias = ctx.conv
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        with torch.enable_grad():
            xg = x.detach().requires_grad_(need_x)
            stacked = _stack_frames(xg, kd, sd, pd)
        g_stacked, g_w2, g_b = torch.ops.aten.convolution_backward(
            gy, stacked.detach(), w2, [w2.shape[0]] if has_bias else None, list(stride),
            list(padding), [1, 1], False, [0, 0], 1, [need_x, need_w, need_b and has_bias],
        )  # fmt: skip
        g_x = torch.autograd.grad(stacked, xg, g_stacked)[0] if need_x else None
        return g_x, g_w2, g_b if has_bias else None, None, None, None, None, None


def conv3d_by_frames(
    x: Tensor,
    weight: Tensor,
    bias: Tensor | None,
    stride: tuple[int, int, int],
    padding: tuple[int, int, int],
) -> Tensor:
    """``F.conv3d(x, weight, bias, stride, padding)`` (groups 1, dilation 1, zero padding) as
    one 2D conv per output frame over its kd stacked input frames.

    The frames under the kernel are stacked along channels (frame offset outermost) and the
    weight ``[C_out, C_in, kd, kh, kw]`` is viewed as ``[C_out, kd·C_in, kh, kw]`` in the same
    order, so each output frame is the same sum of products as the 3D conv's. torch's 2D CPU
    kernels are much faster than ``slow_conv3d`` in both directions. With autograd on, only
    ``x`` is kept for the backward (the stack is rebuilt there).
    """
    b = x.shape[0]
    c_out, c_in, kd, kh, kw = weight.shape
    w2 = weight.transpose(1, 2).reshape(c_out, kd * c_in, kh, kw)
    args = (kd, stride[0], padding[0], stride[1:], padding[1:])
    needs_grad = torch.is_grad_enabled() and (x.requires_grad or weight.requires_grad)
    if needs_grad and not torch.compiler.is_compiling():  # traced: plain ops, the compiler plans
        y = _FramesConv.apply(x, w2, bias, *args)
    else:
        y = F.conv2d(_stack_frames(x, kd, stride[0], padding[0]), w2, bias, stride[1:], padding[1:])
    return y.reshape(b, -1, c_out, y.shape[2], y.shape[3]).transpose(1, 2)


class FrameConv3d(nn.Conv3d):
    """An ``nn.Conv3d`` (same parameters, initialisation and ``state_dict``) whose forward
    runs as `conv3d_by_frames` where torch would otherwise take ``slow_conv3d``: on CPU, at
    batch 1, kernel > 1 (and not > 3 in both H and W), N·C·D·H <= 20480. Elsewhere (CUDA,
    larger inputs, 1x1x1 kernels) it is the plain conv3d."""

    def forward(self, x: Tensor) -> Tensor:
        if self._frames_faster(x):
            return conv3d_by_frames(x, self.weight, self.bias, self.stride, self.padding)  # type: ignore[arg-type]
        return self._conv_forward(x, self.weight, self.bias)

    def _frames_faster(self, x: Tensor) -> bool:
        return (
            x.device.type == "cpu"
            and x.dim() == 5
            and x.shape[0] == 1
            and self.groups == 1
            and self.padding_mode == "zeros"
            and not isinstance(self.padding, str)
            and self.dilation == (1, 1, 1)
            and self.kernel_size != (1, 1, 1)
            and not (self.kernel_size[1] > 3 and self.kernel_size[2] > 3)
            and x.shape[1] * x.shape[2] * x.shape[3] <= _SLOW_CONV3D_MAX
        )


def conv333(c_in: int, c_out: int, bias: bool = True) -> FrameConv3d:
    """3x3x3 conv, zero padding 1, with bias unless ``bias`` is false: 27·c_in·c_out + c_out
    parameters (without the c_out of the bias)."""
    return FrameConv3d(c_in, c_out, kernel_size=3, padding=1, bias=bias)


def family_conv(family: str, c_in: int, c_out: int, bias: bool = True) -> nn.Module:
    """The family's convolution (Q/K/V, output projection, P): conv333 for 3D families."""
    if family in FAMILIES_3D:
        return conv333(c_in, c_out, bias)
    return conv3(c_in, c_out, bias=bias)


def token_shape(cfg: CellConfig) -> tuple[int, int, int]:
    """Pixels of one token as (H, W, D): what a `lin` (Q/K/V, out, mixer) sees per token.

    L, G: the patch of one frame; L3, G3: the 3D patch; V2: a window of one frame; V3: a 3D
    window; S3, Sh: one voxel. (T, C2, C3 have no tokens for a `lin`.)
    """
    ph, pw, pd = cfg.patch
    wh, ww, wd = cfg.window
    fam = cfg.family
    if fam in ("L", "G"):
        return (ph, pw, 1)
    if fam in ("L3", "G3"):
        return (ph, pw, pd)
    if fam == "V2":
        return (wh, ww, 1)
    if fam == "V3":
        return (wh, ww, wd)
    return (1, 1, 1)


def require_multiple(where: str, axis: str, size: int, unit: int, unit_name: str) -> None:
    """Raise `ShapeError` unless ``size`` is a multiple of ``unit`` (plain int arithmetic)."""
    if size % unit != 0:
        raise ShapeError(
            f"{where}: the map's {axis} {size} is not a multiple of the {unit_name} {unit}",
            hint=f"use a {axis} that is a multiple of {unit}",
        )


class DropPath(nn.Module):
    """Stochastic depth: drops the whole branch per sample with probability ``p`` and scales
    the kept samples by 1/(1-p); identity in eval mode."""

    def __init__(self, p: float) -> None:
        super().__init__()
        self.p = float(p)

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.p == 0.0:
            return x
        keep = 1.0 - self.p
        shape = (x.shape[0],) + (1,) * (x.dim() - 1)
        mask = torch.empty(shape, dtype=x.dtype, device=x.device).bernoulli_(keep)
        return x * mask / keep

    def extra_repr(self) -> str:
        return f"p={self.p}"
