"""Synthetic data: shapes, ranges, reproducibility sample by sample, labels that match."""

from __future__ import annotations

import pytest
import torch

from blockspec.training.data import SHAPE_KINDS, Synthetic, mix_seed, phantoms, psnr, shapes

SIZE = (3, 24, 20)  # (D, H, W)


def test_phantoms_are_smooth_images_in_unit_range() -> None:
    x = phantoms(4, 2, SIZE, torch.Generator().manual_seed(0))
    assert x.shape == (4, 2, *SIZE) and x.dtype == torch.float32
    assert float(x.min()) >= 0.0 and float(x.amax(dim=(2, 3, 4)).min()) == pytest.approx(1.0)
    # smooth: neighbouring pixels differ far less than the image's range (noise would not)
    step = (x[..., 1:] - x[..., :-1]).abs().mean()
    assert float(step) < 0.05
    assert not torch.equal(x[0], x[1])  # each sample its own


def test_shapes_labels_mark_the_bright_shape() -> None:
    g = torch.Generator().manual_seed(1)
    img, labels, kind = shapes(6, 1, SIZE, g, noise=0.0)
    assert img.shape == (6, 1, *SIZE) and labels.shape == (6, *SIZE) and kind.shape == (6,)
    for i in range(6):
        fg = labels[i] == kind[i] + 1
        assert fg.any()
        # without noise, the shape is brighter than the dim (<= 0.3) background
        assert float(img[i, 0][fg].min()) >= 0.6 > 0.3 + 1e-6 >= float(img[i, 0][~fg].max())
    assert set(kind.tolist()) <= set(range(len(SHAPE_KINDS)))


def test_kinds_limits_the_kinds_and_each_kind_has_its_form() -> None:
    g = torch.Generator().manual_seed(2)
    _, _, kind = shapes(12, 1, (1, 32, 32), g, kinds=2, noise=0.0)
    assert set(kind.tolist()) <= {0, 1}
    fill = {}  # the shape's area over its bounding box's area, averaged over draws
    for k, name in enumerate(SHAPE_KINDS):
        ratios = []
        for _ in range(6):
            _, labels, _ = shapes(1, 1, (1, 48, 48), g, kinds=k + 1, noise=0.0)
            while int(labels.max()) != k + 1:  # draw until the kind is k
                _, labels, _ = shapes(1, 1, (1, 48, 48), g, kinds=k + 1, noise=0.0)
            m = labels[0, 0] > 0
            rows, cols = m.any(1).nonzero(), m.any(0).nonzero()
            box = (int(rows.max() - rows.min()) + 1) * (int(cols.max() - cols.min()) + 1)
            ratios.append(int(m.sum()) / box)
        fill[name] = sum(ratios) / len(ratios)
    assert fill["square"] == 1.0
    assert 0.7 < fill["disk"] < 0.85  # pi / 4
    assert fill["ring"] < 0.6 and fill["cross"] < 0.65 and fill["diamond"] < 0.65


@pytest.mark.parametrize("task, classes", [("denoise", 1), ("segment", 2), ("segment", 4),
                                           ("classify", 3)])  # fmt: skip
def test_samples_do_not_depend_on_batching_or_ranks(task: str, classes: int) -> None:
    data = Synthetic(task, 1, SIZE, classes=classes, seed=7)
    x4, y4 = data.train_batch(step=3, batch=4)
    x0, y0 = data.train_batch(step=3, batch=2, rank=0, world=2)
    x1, y1 = data.train_batch(step=3, batch=2, rank=1, world=2)
    assert torch.equal(torch.cat([x0, x1]), x4) and torch.equal(torch.cat([y0, y1]), y4)
    assert not torch.equal(x0, x1)  # each rank its own data
    again = Synthetic(task, 1, SIZE, classes=classes, seed=7).train_batch(step=3, batch=4)
    assert torch.equal(again[0], x4)
    other_step = data.train_batch(step=4, batch=4)[0]
    assert not torch.equal(other_step, x4)
    ex, ey = data.eval_batch(4)
    assert not torch.equal(ex, data.train_batch(step=0, batch=4)[0])  # held out
    if task == "segment":
        assert int(y4.max()) < classes and y4.dtype == torch.long
    if task == "classify":
        assert set(y4.tolist()) <= set(range(classes))


def test_denoise_noise_level_and_psnr() -> None:
    data = Synthetic("denoise", 1, (1, 32, 32), noise=0.1, seed=0)
    noisy, clean = data.eval_batch(8)
    # sigma 0.1 on [0, 1] images: 20 dB
    assert psnr(noisy, clean) == pytest.approx(20.0, abs=0.3)
    assert psnr(clean, clean) == float("inf")


def test_mix_seed_is_stable_and_spreads() -> None:
    assert mix_seed(0, 0, 0) == mix_seed(0, 0, 0)
    seeds = {mix_seed(s, st, i) for s in range(3) for st in range(2) for i in range(50)}
    assert len(seeds) == 300 and all(0 <= s < 2**63 for s in seeds)
