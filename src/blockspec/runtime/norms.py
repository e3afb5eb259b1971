"""Norms over ``[B, C, D, H, W]`` maps (SEMANTICS.md, Norms).

Each class subclasses the torch norm it wraps, so a cell's ``norm1.weight`` is the norm's own
parameter (no extra nesting in ``state_dict`` keys). Momenta are torch defaults; the epsilon
is torch's default unless a factory is given one (the cell key ``norm_eps``).
"""

from __future__ import annotations

from collections.abc import Callable

from torch import Tensor, nn

from blockspec.errors import ShapeError, SpecValueError
from blockspec.runtime.config import Size

__all__ = [
    "BatchNorm2dFrames",
    "ChannelLayerNorm",
    "FrameLayerNorm",
    "InstanceNorm2dFrames",
    "DEFAULT_EPS",
    "NORM_LAYERS",
    "build_norm",
]


def _frames(x: Tensor) -> Tensor:  # [B, C, D, H, W] -> [B·D, C, H, W]
    b, c, d, h, w = x.shape
    return x.transpose(1, 2).reshape(b * d, c, h, w)


def _unframes(y: Tensor, b: int) -> Tensor:  # [B·D, C, H, W] -> [B, C, D, H, W]
    bd, c, h, w = y.shape
    return y.reshape(b, bd // b, c, h, w).transpose(1, 2)


class FrameLayerNorm(nn.LayerNorm):
    """`layer`: LayerNorm over [C, H, W] of every frame, affine (2·C·H·W parameters).

    Needs the static H, W it was built for; another size raises `ShapeError`.
    """

    def __init__(self, channels: int, size: Size, eps: float = 1e-5) -> None:
        _, h, w = size
        if h is None or w is None:
            raise ShapeError("norm 'layer' needs a static H and W (the map size is dynamic)")
        super().__init__((channels, h, w), eps=eps)

    def forward(self, x: Tensor) -> Tensor:
        _, hh, ww = self.normalized_shape
        if x.shape[3] != hh or x.shape[4] != ww:
            raise ShapeError(
                f"norm 'layer' was built for maps of {hh}x{ww} (H x W) but got "
                f"{x.shape[3]}x{x.shape[4]}"
            )
        return super().forward(x.transpose(1, 2)).transpose(1, 2)


class ChannelLayerNorm(nn.LayerNorm):
    """`channel_layer`: LayerNorm over C at every pixel, affine (2C), as in ViT/Swin; with
    ``affine=False`` it has no parameters (SOANet's ``output_norm = channel_layer_plain``)."""

    def __init__(self, channels: int, eps: float = 1e-5, affine: bool = True) -> None:
        super().__init__(channels, eps=eps, elementwise_affine=affine)

    def forward(self, x: Tensor) -> Tensor:
        # explicit axes (no negative dims): [B, C, D, H, W] <-> [B, D, H, W, C]; ONNX friendly
        return super().forward(x.permute(0, 2, 3, 4, 1)).permute(0, 4, 1, 2, 3)


class BatchNorm2dFrames(nn.BatchNorm2d):
    """`batch2d`: BatchNorm2d over the B·D frames (2C parameters)."""

    def forward(self, x: Tensor) -> Tensor:
        return _unframes(super().forward(_frames(x)), x.shape[0])


class InstanceNorm2dFrames(nn.InstanceNorm2d):
    """`instance2d`: InstanceNorm2d of every frame, not affine (no parameters)."""

    def forward(self, x: Tensor) -> Tensor:
        return _unframes(super().forward(_frames(x)), x.shape[0])


#: norm name -> a factory ``(channels, size, eps) -> module``; the names are the language's
#: (`blockspec.language.options.NORMS`), checked by a test. Every kind has an eps (torch's
#: default 1e-5 for all of them).
NORM_LAYERS: dict[str, Callable[[int, Size, float], nn.Module]] = {
    "layer": FrameLayerNorm,
    "channel_layer": lambda c, size, eps: ChannelLayerNorm(c, eps=eps),
    "batch2d": lambda c, size, eps: BatchNorm2dFrames(c, eps=eps),
    "instance2d": lambda c, size, eps: InstanceNorm2dFrames(c, eps=eps),
    "batch3d": lambda c, size, eps: nn.BatchNorm3d(c, eps=eps),
    "instance3d": lambda c, size, eps: nn.InstanceNorm3d(c, eps=eps),
}
#: torch's default eps of every norm above
DEFAULT_EPS = 1e-5


def build_norm(kind: str, channels: int, size: Size, eps: float | None = None) -> nn.Module:
    """A norm of ``kind`` (a language norm name) over ``channels``; ``size`` is the (D, H, W)
    of the map it normalises (only `layer` uses it); ``eps`` None is torch's default."""
    try:
        factory = NORM_LAYERS[kind]
    except KeyError:
        raise SpecValueError(f"unknown norm {kind!r}") from None
    return factory(channels, size, DEFAULT_EPS if eps is None else float(eps))
