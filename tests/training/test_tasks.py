"""Losses and metrics of the three tasks, on hand-made tensors."""

from __future__ import annotations

import math

import pytest
import torch

from blockspec.errors import SpecValueError
from blockspec.training import tasks as T


def test_dice_by_hand() -> None:
    target = torch.tensor([[0, 1, 1, 2]])
    pred = torch.tensor([[1, 1, 0, 2]])
    # class 1: |P|=2, |G|=2, overlap 1 -> 0.5; class 2: 1, 1, 1 -> 1.0
    assert T.dice(pred, target, 3) == pytest.approx(0.75)
    # a class absent from both counts as perfect; binary maps use class 1 only
    assert T.dice(torch.zeros(1, 4, dtype=torch.long), torch.zeros(1, 4, dtype=torch.long), 2) == 1


def test_segment_metric_and_loss_for_one_and_many_outputs() -> None:
    y = torch.tensor([[[[0, 1], [1, 0]]]])  # [B=1, D=1, H=2, W=2]
    one = torch.where(y.bool(), 5.0, -5.0).float().unsqueeze(1)  # [1, 1, 1, 2, 2] logits
    assert T.metric("segment", one, y) == 1.0
    assert float(T.loss("segment", one, y)) < 0.01
    many = torch.stack([-one[:, 0], one[:, 0]], dim=1)  # background, foreground
    assert T.metric("segment", many, y) == 1.0
    assert float(T.loss("segment", many, y)) < 0.01


def test_psnr_and_accuracy() -> None:
    clean = torch.zeros(2, 1, 1, 4, 4)
    assert T.metric("denoise", clean + 0.1, clean) == pytest.approx(20.0)
    assert math.isinf(T.metric("denoise", clean, clean))
    logits = torch.tensor([[2.0, 0.0], [0.0, 1.0], [3.0, 0.0], [0.0, 0.5]])
    assert T.metric("classify", logits, torch.tensor([0, 1, 1, 1])) == 0.75


def test_check_output_counts_classes_and_explains_misfits() -> None:
    x = torch.zeros(1, 2, 1, 8, 8)
    assert T.check_output("denoise", torch.zeros(1, 2, 1, 8, 8), x) == 2
    assert T.check_output("segment", torch.zeros(1, 1, 1, 8, 8), x) == 1
    assert T.check_output("classify", torch.zeros(1, 5), x) == 5
    with pytest.raises(SpecValueError, match="a list of 3 maps"):
        T.check_output("denoise", [x, x, x], x)
    with pytest.raises(SpecValueError, match="at the input's size"):
        T.check_output("segment", torch.zeros(1, 2, 1, 4, 4), x)
    with pytest.raises(SpecValueError, match="unknown task"):
        T.check_output("detect", x, x)
