"""Synthetic training data made on the fly (nothing is downloaded).

* `phantoms`: smooth random images in [0, 1], sums of anisotropic Gaussian blobs that drift
  slowly over the D axis (frames), for denoising (the input adds Gaussian noise).
* `shapes`: one or two filled shapes (disk, square, ring, cross, diamond, triangle) on a smooth
  dim background with noise; the label is a mask (segmentation) or the kind (classification).

All tensors are ``[N, C, D, H, W]`` float32 on the CPU. `Synthetic` gives every sample its own
generator seeded from (seed, stream, index), so a batch is the same whatever the batch size,
the number of processes or the point a run resumed from: global sample ``i`` of a step is
always the same image.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

__all__ = ["SHAPE_KINDS", "Synthetic", "mix_seed", "phantoms", "shapes"]

#: The shape kinds of `shapes`; a classification label is the index into this tuple.
SHAPE_KINDS = ("disk", "square", "ring", "cross", "diamond", "triangle")

Size3 = tuple[int, int, int]  # (D, H, W)

_MASK64 = (1 << 64) - 1


def mix_seed(*values: int) -> int:
    """A well-mixed 63-bit seed from integers (splitmix64 over each value in turn).

    Python's `hash` of a str varies between processes; this does not, so every rank of a
    distributed run derives the same seeds.
    """
    h = 0x9E3779B97F4A7C15
    for v in values:
        h = (h ^ (int(v) & _MASK64)) & _MASK64
        h = (h + 0x9E3779B97F4A7C15) & _MASK64
        h = ((h ^ (h >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
        h = ((h ^ (h >> 27)) * 0x94D049BB133111EB) & _MASK64
        h ^= h >> 31
    return h >> 1


def _grid(size: Size3) -> tuple[Tensor, Tensor, Tensor]:
    """Coordinates t [D,1,1], y [1,H,1], x [1,1,W] (pixels; t in frames)."""
    d, h, w = size
    t = torch.arange(d, dtype=torch.float32).view(d, 1, 1)
    y = torch.arange(h, dtype=torch.float32).view(1, h, 1)
    x = torch.arange(w, dtype=torch.float32).view(1, 1, w)
    return t, y, x


def _u(g: torch.Generator, lo: float, hi: float) -> float:
    return lo + (hi - lo) * float(torch.rand((), generator=g))


def _blobs(size: Size3, g: torch.Generator, count: int) -> Tensor:
    """``[D, H, W]`` sum of `count` drifting anisotropic Gaussians, scaled to peak 1."""
    d, h, w = size
    t, y, x = _grid(size)
    t = t - (d - 1) / 2
    img = torch.zeros(size)
    side = min(h, w)
    for _ in range(count):
        cy, cx = _u(g, 0, h - 1), _u(g, 0, w - 1)
        vy, vx = _u(g, -0.5, 0.5), _u(g, -0.5, 0.5)  # pixels per frame
        sy, sx = _u(g, 0.06, 0.25) * side, _u(g, 0.06, 0.25) * side
        amp = _u(g, 0.3, 1.0)
        r2 = ((y - cy - vy * t) / sy) ** 2 + ((x - cx - vx * t) / sx) ** 2
        img = img + amp * torch.exp(-0.5 * r2)
    return img / img.amax().clamp_min(1e-6)


def phantoms(n: int, channels: int, size: Size3, generator: torch.Generator) -> Tensor:
    """``[n, channels, D, H, W]`` smooth random images in [0, 1] (each channel its own)."""
    out = torch.empty(n, channels, *size)
    for i in range(n):
        for c in range(channels):
            out[i, c] = _blobs(
                size, generator, count=int(torch.randint(2, 6, (), generator=generator))
            )
    return out


def _shape_mask(kind: int, size: Size3, g: torch.Generator) -> Tensor:
    """``[D, H, W]`` bool mask of one shape of `kind`, drifting over the frames."""
    d, h, w = size
    t, y, x = _grid(size)
    t = t - (d - 1) / 2
    side = min(h, w)
    r = _u(g, 0.18, 0.34) * side
    cy, cx = _u(g, r, h - 1 - r), _u(g, r, w - 1 - r)
    vy, vx = _u(g, -0.3, 0.3), _u(g, -0.3, 0.3)
    dy, dx = y - cy - vy * t, x - cx - vx * t
    ay, ax = dy.abs(), dx.abs()
    name = SHAPE_KINDS[kind]
    if name == "disk":
        return dy**2 + dx**2 <= r**2
    if name == "square":
        return (ay <= 0.8 * r) & (ax <= 0.8 * r)
    if name == "ring":
        rr = dy**2 + dx**2
        return (rr <= r**2) & (rr >= (0.55 * r) ** 2)
    if name == "cross":
        return ((ay <= r / 3) & (ax <= r)) | ((ax <= r / 3) & (ay <= r))
    if name == "diamond":
        return ay + ax <= r
    # triangle, apex up: the half-width grows from 0 at dy = -r to r at dy = r
    return (dy >= -r) & (dy <= r) & (ax <= (dy + r) / 2)


def shapes(
    n: int,
    channels: int,
    size: Size3,
    generator: torch.Generator,
    kinds: int = len(SHAPE_KINDS),
    per_image: int = 1,
    noise: float = 0.1,
) -> tuple[Tensor, Tensor, Tensor]:
    """Images of random shapes: ``(image [n, C, D, H, W], labels [n, D, H, W], kind [n])``.

    Each image holds `per_image` shapes of kinds drawn from the first `kinds` of `SHAPE_KINDS`
    (later ones drawn over earlier ones); ``labels`` is 0 on the background and ``kind + 1`` on
    a shape; ``kind`` is the first shape's kind. The background is a dim smooth phantom, each
    shape has its own brightness, and every channel gets independent Gaussian noise.
    """
    if not 1 <= kinds <= len(SHAPE_KINDS):
        raise ValueError(f"kinds must be in 1..{len(SHAPE_KINDS)}, got {kinds}")
    images = torch.empty(n, channels, *size)
    labels = torch.zeros(n, *size, dtype=torch.long)
    first = torch.empty(n, dtype=torch.long)
    for i in range(n):
        img = 0.3 * _blobs(size, generator, count=2)
        for j in range(per_image):
            kind = int(torch.randint(0, kinds, (), generator=generator))
            if j == 0:
                first[i] = kind
            mask = _shape_mask(kind, size, generator)
            img = torch.where(mask, torch.tensor(_u(generator, 0.6, 1.0)), img)
            labels[i][mask] = kind + 1
        images[i] = img + noise * torch.randn(channels, *size, generator=generator)
    return images, labels, first


@dataclass(frozen=True)
class Synthetic:
    """The data of one task at one size, sample by sample reproducible.

    ``task``: "denoise" gives ``(noisy, clean)``; "segment" gives ``(image, labels)`` with
    labels ``[N, D, H, W]`` in 0..classes-1 (``classes`` = the model's output channels; with
    1 or 2 outputs, every shape is foreground 1); "classify" gives ``(image, kind)`` with kind
    in 0..classes-1. `noise` is the Gaussian noise sigma (images are in about [0, 1]).
    """

    task: str
    channels: int
    size: Size3
    classes: int = 1
    noise: float = 0.1
    seed: int = 0

    TRAIN = 0
    EVAL = 1

    def sample(self, stream: int, index: int) -> tuple[Tensor, Tensor]:
        """Sample `index` of `stream` (`TRAIN` or `EVAL`): input ``[C, D, H, W]`` and target."""
        g = torch.Generator().manual_seed(mix_seed(self.seed, stream, index))
        if self.task == "denoise":
            clean = phantoms(1, self.channels, self.size, g)[0]
            return clean + self.noise * torch.randn(clean.shape, generator=g), clean
        if self.task == "segment":
            kinds = len(SHAPE_KINDS) if self.classes <= 2 else self.classes - 1
            img, labels, _ = shapes(1, self.channels, self.size, g, kinds, 2, self.noise)
            lab = labels[0] if self.classes > 2 else (labels[0] > 0).long()
            return img[0], lab
        if self.task == "classify":
            img, _, kind = shapes(1, self.channels, self.size, g, self.classes, 1, self.noise)
            return img[0], kind[0]
        raise ValueError(f"unknown task {self.task!r}")

    def batch(self, stream: int, start: int, n: int) -> tuple[Tensor, Tensor]:
        """Samples ``start .. start + n - 1`` of `stream`, stacked."""
        pairs = [self.sample(stream, start + i) for i in range(n)]
        return torch.stack([p[0] for p in pairs]), torch.stack([p[1] for p in pairs])

    def train_batch(self, step: int, batch: int, rank: int = 0, world: int = 1):
        """Rank `rank`'s share of step `step`: global samples ``step·B·world + rank·B + i``.

        With one process and batch ``world·B`` a step sees exactly the samples that `world`
        processes of batch B see together (the DDP equivalence rests on this).
        """
        return self.batch(self.TRAIN, (step * world + rank) * batch, batch)

    def eval_batch(self, n: int) -> tuple[Tensor, Tensor]:
        """The fixed held-out batch: the first `n` samples of the eval stream."""
        return self.batch(self.EVAL, 0, n)


def psnr(pred: Tensor, target: Tensor, data_range: float = 1.0) -> float:
    """Peak signal-to-noise ratio in dB over the whole batch: ``10 log10(range² / MSE)``."""
    mse = float(torch.mean((pred.float() - target.float()) ** 2))
    return math.inf if mse == 0 else 10 * math.log10(data_range**2 / mse)
