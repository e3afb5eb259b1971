"""Sh's one-call attention, the gathered position bias and the explicit attention of training
against plain float64 references written from SEMANTICS.md (per-window loops, labels of the
unrolled map), not from the code under test."""

from __future__ import annotations

import math

import pytest
import torch

from blockspec.runtime.attention import ShiftedSwinAttention, attend
from blockspec.runtime.attention.swin import region_mask, swin_shifts
from blockspec.runtime.config import CellConfig


def _labels(size: tuple[int, int, int], window: tuple[int, int, int]) -> torch.Tensor:
    """Region label of every voxel of the map rolled by -s: per axis, the voxels [0, s) of
    the unrolled map wrap around to the far end (label 1), the others stay contiguous (0)."""
    shifts = swin_shifts(window, size)
    per_axis = []
    for m, s in zip(size, shifts, strict=True):
        lab = torch.zeros(m, dtype=torch.long)
        lab[:s] = 1
        per_axis.append(torch.roll(lab, -s))
    d, h, w = per_axis
    return (d[:, None, None] * 4 + h[None, :, None] * 2 + w[None, None, :]).contiguous()


@pytest.mark.parametrize(
    ("size", "window"),
    [
        ((4, 8, 8), (4, 4, 2)),
        ((2, 8, 12), (4, 4, 2)),
        ((1, 14, 14), (7, 7, 1)),
        ((4, 4, 8), (4, 4, 2)),
    ],
)
def test_region_mask_matches_labels_of_the_unrolled_map(size, window) -> None:
    wh, ww, wd = window
    lab = _labels(size, window)
    d, h, w = size
    windows = []
    for i in range(d // wd):
        for j in range(h // wh):
            for k in range(w // ww):
                block = lab[i * wd : (i + 1) * wd, j * wh : (j + 1) * wh, k * ww : (k + 1) * ww]
                ids = block.flatten()
                windows.append(torch.where(ids[:, None] == ids[None, :], 0.0, -math.inf))
    want = torch.stack(windows)[:, None]
    torch.testing.assert_close(region_mask(window, size), want)


def _sh(attention: str, size: tuple[int, int, int], heads: int = 2) -> ShiftedSwinAttention:
    cfg = CellConfig(
        code="Sh", family="Sh", has_mixer=False, c_in=4, c_out=4, size=size,
        window=(4, 4, 2), heads=heads, attention=attention, norm="instance3d", dropout=0.0,
    )  # fmt: skip
    torch.manual_seed(0)
    mod = ShiftedSwinAttention(cfg).double()
    with torch.no_grad():
        mod.pos_table.normal_()  # a bias large enough to matter
    return mod


def _reference(mod: ShiftedSwinAttention, x: torch.Tensor) -> torch.Tensor:
    """Sh by the book: roll, Q/K/V, per window: cosine logits + bias + region mask, softmax,
    weighted sum; merge; roll back; out projection. Loops over windows and heads."""
    b, c, d, h, w = x.shape
    wh, ww, wd = mod.cfg.window
    sd, sh, sw = swin_shifts(mod.cfg.window, (d, h, w))
    lab = _labels((d, h, w), mod.cfg.window)
    n = mod.heads
    grid = [(i, j, k) for i in range(wd) for j in range(wh) for k in range(ww)]
    offsets = [(2 * wh - 1) * (2 * ww - 1), 2 * ww - 1, 1]
    index = torch.tensor(
        [[sum((p[a] - q[a] + g - 1) * offsets[a] for a, g in enumerate((wd, wh, ww)))
          for q in grid] for p in grid]
    )  # fmt: skip
    bias = mod.pos_table[index]  # [T, T, n]
    rolled = torch.roll(x, (-sd, -sh, -sw), (2, 3, 4))
    if mod.lin:

        def proj(lin, t):  # noqa: ANN001, ANN202 - per voxel
            return lin(t.permute(0, 2, 3, 4, 1)).permute(0, 4, 1, 2, 3)

        q, k, v = (proj(m, rolled) for m in (mod.q, mod.k, mod.v))
    else:
        q, k, v = (torch.roll(m(x), (-sd, -sh, -sw), (2, 3, 4)) for m in (mod.q, mod.k, mod.v))
    y = torch.zeros_like(v)
    f = c // n
    scale = torch.clamp(mod.tau, max=math.log(100.0)).exp()
    for bi in range(b):
        for i in range(0, d, wd):
            for j in range(0, h, wh):
                for kk in range(0, w, ww):
                    sl = (bi, slice(None), slice(i, i + wd), slice(j, j + wh), slice(kk, kk + ww))
                    ids = lab[sl[2:]].flatten()
                    keep = ids[:, None] == ids[None, :]
                    qt, kt, vt = (t[sl].flatten(1).t() for t in (q, k, v))  # [T, C]
                    outs = []
                    for hh in range(n):
                        qh, kh, vh = (t[:, hh * f : (hh + 1) * f] for t in (qt, kt, vt))
                        qh = qh / qh.norm(dim=1, keepdim=True)
                        kh = kh / kh.norm(dim=1, keepdim=True)
                        logits = scale[hh] * qh @ kh.t() + bias[:, :, hh]
                        logits = logits.masked_fill(~keep, -math.inf)
                        outs.append(torch.softmax(logits, dim=1) @ vh)
                    y[sl] = torch.cat(outs, dim=1).t().reshape(c, wd, wh, ww)
    if mod.lin:
        y = proj(mod.out, y)
    y = torch.roll(y, (sd, sh, sw), (2, 3, 4))
    return y if mod.lin else mod.out(y)


@pytest.mark.parametrize("attention", ["lin", "conv"])
@pytest.mark.parametrize("batch", [1, 2])
def test_sh_matches_per_window_reference(attention: str, batch: int) -> None:
    mod = _sh(attention, (4, 8, 8))
    x = torch.randn(
        batch, 4, 4, 8, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(1)
    )
    with torch.no_grad():
        torch.testing.assert_close(mod(x), _reference(mod, x), rtol=1e-10, atol=1e-10)
    # training, autograd on: the explicit attention path, same values and gradients
    mod.train()
    xg = x.clone().requires_grad_(True)
    got = mod(xg)
    g_got = torch.autograd.grad(got.sum(), [xg, mod.pos_table])
    xr = x.clone().requires_grad_(True)
    want = _reference(mod, xr)
    g_want = torch.autograd.grad(want.sum(), [xr, mod.pos_table])
    torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-10)
    for a, e in zip(g_got, g_want, strict=True):
        torch.testing.assert_close(a, e, rtol=1e-9, atol=1e-9)


def test_sh_dynamic_size_and_state_dict() -> None:
    mod = _sh("lin", (None, None, None))
    assert "region_mask" not in mod.state_dict()
    assert set(mod.state_dict()) == set(_sh("lin", (4, 8, 8)).state_dict())
    for size in [(4, 8, 8), (2, 8, 12), (4, 8, 8)]:
        x = torch.randn(1, 4, *size, dtype=torch.float64)
        with torch.no_grad():
            torch.testing.assert_close(mod(x), _reference(mod, x), rtol=1e-10, atol=1e-10)


def test_explicit_attention_equals_sdpa_with_learned_bias() -> None:
    gen = torch.Generator().manual_seed(2)
    q, k, v = (torch.randn(5, 3, 7, 8, dtype=torch.float64, generator=gen) for _ in range(3))
    bias = torch.randn(1, 2, 7, 7, dtype=torch.float64, generator=gen).requires_grad_(True)
    opts = dict(heads=2, tau=None, normalize_qk=True)
    got = attend(q, k, v, attn_mask=bias, **opts)  # grad enabled, bias needs grad: explicit
    with torch.no_grad():
        want = attend(q, k, v, attn_mask=bias.detach(), **opts)  # SDPA
    torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)
