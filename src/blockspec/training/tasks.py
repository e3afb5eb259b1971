"""The three synthetic tasks: what the model must output, the loss, and the metric.

* ``denoise``: output the input's shape; loss MSE; metric PSNR in dB (images in [0, 1]).
* ``segment``: output ``[B, K, D, H, W]`` logits; K = 1 is foreground vs background (binary
  cross-entropy), K >= 2 classes with 0 the background (cross-entropy); metric: the mean Dice
  over the foreground classes.
* ``classify``: output ``[B, K]`` logits, 2 <= K <= 6 shape kinds; loss cross-entropy; metric
  accuracy.

Every loss is a mean over equally sized per-process batches, so DDP's gradient average equals
the gradient on the whole global batch.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch.nn.functional as F
from torch import Tensor

from blockspec.errors import SpecValueError
from blockspec.training.data import SHAPE_KINDS, psnr

__all__ = ["METRICS", "TASKS", "check_output", "loss", "metric"]

TASKS = ("denoise", "segment", "classify")

#: The metric of each task: (short name, unit shown after the value).
METRICS = {"denoise": ("PSNR", " dB"), "segment": ("Dice", ""), "classify": ("acc", "")}


def _shape(out: object) -> str:
    if isinstance(out, Tensor):
        return f"a tensor {list(out.shape)}"
    if isinstance(out, Sequence):
        return f"a list of {len(out)} maps"
    return f"a {type(out).__name__}"


def check_output(task: str, out: object, x: Tensor) -> int:
    """The number of output channels / classes of a model whose output on `x` is `out`;
    raises `SpecValueError` saying what the task needs and how to get it."""
    if task not in TASKS:
        raise SpecValueError(f"unknown task {task!r}", None, f"use one of {', '.join(TASKS)}")
    c, size = x.shape[1], list(x.shape[2:])
    if task == "denoise":
        if not (isinstance(out, Tensor) and out.shape == x.shape):
            raise SpecValueError(
                f"task denoise needs an output of the input's shape {list(x.shape)}; the "
                f"model returns {_shape(out)}",
                None,
                f"end the spec with `head conv {{ out_channels = {c} }}` (a U-Net, or a "
                "backbone without a stem, keeps the input's size)",
            )
        return c
    if task == "segment":
        if not (isinstance(out, Tensor) and out.dim() == 5 and list(out.shape[2:]) == size):
            raise SpecValueError(
                f"task segment needs per-pixel logits [B, K, {', '.join(map(str, size))}] at "
                f"the input's size; the model returns {_shape(out)}",
                None,
                "end the spec with `head conv { out_channels = 2 }` (K classes, background "
                "included) on a backbone that keeps the input's size",
            )
        k = out.shape[1]
        if k - 1 > len(SHAPE_KINDS):
            raise SpecValueError(
                f"task segment has at most {len(SHAPE_KINDS) + 1} classes (background and "
                f"{len(SHAPE_KINDS)} shape kinds); the model outputs {k}",
                None,
                "use out_channels = 2 for foreground vs background",
            )
        return k
    if not (isinstance(out, Tensor) and out.dim() == 2):
        raise SpecValueError(
            f"task classify needs logits [B, K]; the model returns {_shape(out)}",
            None,
            "end the spec with `head classify { classes = K }`, 2 <= K <= "
            f"{len(SHAPE_KINDS)} (the shape kinds)",
        )
    k = out.shape[1]
    if not 2 <= k <= len(SHAPE_KINDS):
        raise SpecValueError(
            f"task classify tells {len(SHAPE_KINDS)} shape kinds apart, so 2 <= classes <= "
            f"{len(SHAPE_KINDS)}; the model has {k}",
            None,
            f"set `head classify {{ classes = {min(max(k, 2), len(SHAPE_KINDS))} }}`",
        )
    return k


def loss(task: str, out: Tensor, y: Tensor) -> Tensor:
    """The training loss of `task` (a mean over the batch)."""
    if task == "denoise":
        return F.mse_loss(out, y)
    if task == "segment" and out.shape[1] == 1:
        return F.binary_cross_entropy_with_logits(out[:, 0], y.to(out.dtype))
    return F.cross_entropy(out, y)


def dice(pred: Tensor, target: Tensor, classes: int) -> float:
    """Mean Dice over the foreground classes 1..classes-1 of label maps (a class absent from
    both counts 1)."""
    scores = []
    for c in range(1, max(classes, 2)):
        p, t = pred == c, target == c
        denom = int(p.sum()) + int(t.sum())
        scores.append(1.0 if denom == 0 else 2.0 * int((p & t).sum()) / denom)
    return sum(scores) / len(scores)


def metric(task: str, out: Tensor, y: Tensor) -> float:
    """The task's metric over a whole (evaluation) batch: PSNR in dB, Dice or accuracy."""
    if task == "denoise":
        return psnr(out, y)
    if task == "segment":
        k = out.shape[1]
        pred = (out[:, 0] > 0).long() if k == 1 else out.argmax(1)
        return dice(pred, y, k)
    return float((out.argmax(1) == y).float().mean())
