"""Attention cores per family: parameter counts from SEMANTICS.md's formulas, references
written out by hand (partitioning, heads, logits, bias, Swin shift and mask), locality,
temporal equivariance, size checks and float64 gradchecks."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
import torch
import torch.nn.functional as F

from blockspec.errors import ShapeError
from blockspec.runtime.attention import build_core, relative_position_index

from .param_counts import (
    ATTENTION_CODES,
    cfg_for,
    expected_attention_params,
    n_params,
    one_thread,  # noqa: F401  (autouse fixture)
)


# ---- parameter counts and shapes -------------------------------------------------------------
@pytest.mark.parametrize("attention", ["conv", "lin"])
@pytest.mark.parametrize("code", ATTENTION_CODES)
@pytest.mark.parametrize(
    "flags",
    [
        {},
        {"cosine": False, "rel_pos_bias": False, "out_proj": False},
        {"cosine": False, "normalize_qk": False},
    ],
)
def test_attention_parameter_count_shape_and_gradients(code, attention, flags):
    torch.manual_seed(0)
    cfg = cfg_for(code, attention=attention, **flags)
    core = build_core(cfg)
    assert n_params(core) == expected_attention_params(cfg)
    names = {name for name, _ in core.named_parameters()}
    assert {"q.weight", "k.weight", "v.weight"} <= names
    assert ("tau" in names) == cfg.cosine
    assert ("pos_table" in names) == (cfg.rel_pos_bias and cfg.family != "T")
    assert ("out.weight" in names) == cfg.out_proj
    x = torch.randn(2, 4, 4, 8, 8)
    y = core(x)
    assert y.shape == (2, 8, 4, 8, 8)
    y.square().mean().backward()
    for name, p in core.named_parameters():
        assert p.grad is not None, name
        assert torch.isfinite(p.grad).all(), name
    assert code in repr(core)


def test_tau_and_pos_table_init():
    torch.manual_seed(0)
    core = build_core(cfg_for("L1", heads=4))
    assert core.tau.shape == (4,)
    assert torch.allclose(core.tau, torch.full((4,), math.log(10.0)))
    # (2·2-1)(2·2-1) rows for a 2x2 grid of patches per window, one column per head
    assert core.pos_table.shape == (9, 4)
    big = build_core(cfg_for("S3", window=(8, 8, 4), size=(4, 8, 8), heads=4))
    assert big.pos_table.shape == (15 * 15 * 7, 4)
    assert 0.015 < big.pos_table.std() < 0.025


def test_relative_position_index_is_offset_lookup():
    grid = (2, 3, 4)
    index = relative_position_index(grid)
    coords = [(a, b, c) for a in range(2) for b in range(3) for c in range(4)]
    for i, (a, b, c) in enumerate(coords):
        for j, (a2, b2, c2) in enumerate(coords):
            want = ((a - a2 + 1) * 5 + (b - b2 + 2)) * 7 + (c - c2 + 3)
            assert index[i, j] == want


# ---- references written out by hand ---------------------------------------------------------
def softmax_attention(q, k, v, bias=None, mask=None):
    logits = q @ k.transpose(-1, -2)
    if bias is not None:
        logits = logits + bias
    if mask is not None:
        logits = logits.masked_fill(mask, float("-inf"))
    return torch.softmax(logits, dim=-1) @ v


def cosine_prep(q, k, tau):
    return F.normalize(q, dim=-1) * torch.exp(torch.clamp(tau, max=math.log(100))), F.normalize(
        k, dim=-1
    )


def test_local_lin_matches_a_loop_reference():
    """L with lin Q/K/V: tokens are 2x2 patches (features c, ph, pw), heads are channel
    chunks, cosine logits with tau, bias by patch offset inside the window."""
    torch.manual_seed(0)
    cfg = cfg_for("L1", attention="lin", c_in=3, c_out=4, size=(2, 8, 8), window=(4, 4, 1))
    core = build_core(cfg).double()
    with torch.no_grad():
        core.tau.copy_(torch.tensor([0.5, 9.0]))  # the second is clamped at ln 100
    x = torch.randn(1, 3, 2, 8, 8, dtype=torch.float64)
    got = core(x)
    want = torch.zeros_like(got)
    n, ch = 2, 2  # heads, channels per head
    for d in range(2):
        for wy in range(2):
            for wx in range(2):
                toks, where = [], []
                for py in range(2):
                    for px in range(2):
                        y0, x0 = 4 * wy + 2 * py, 4 * wx + 2 * px
                        toks.append(x[0, :, d, y0 : y0 + 2, x0 : x0 + 2].reshape(-1))
                        where.append((y0, x0, py, px))
                t = torch.stack(toks)  # [4 tokens, 3·2·2]
                q, k, v = core.q(t), core.k(t), core.v(t)
                out = []
                for h in range(n):
                    sl = slice(h * ch * 4, (h + 1) * ch * 4)
                    qh, kh = cosine_prep(q[:, sl], k[:, sl], core.tau[h])
                    bias = torch.zeros(4, 4, dtype=torch.float64)
                    for i, (_, _, ay, ax) in enumerate(where):
                        for j, (_, _, by, bx) in enumerate(where):
                            bias[i, j] = core.pos_table[(ay - by + 1) * 3 + (ax - bx + 1), h]
                    out.append(softmax_attention(qh, kh, v[:, sl], bias))
                o = core.out(torch.cat(out, dim=1))
                for i, (y0, x0, _, _) in enumerate(where):
                    want[0, :, d, y0 : y0 + 2, x0 : x0 + 2] = o[i].reshape(4, 2, 2)
    torch.testing.assert_close(got, want)


def test_global_groups_same_position_patches_of_all_windows():
    """G: the group of a patch is that patch position in every window of the frame."""
    torch.manual_seed(0)
    cfg = cfg_for(
        "G1", attention="lin", out_proj=False, rel_pos_bias=False, cosine=False,
        normalize_qk=False, c_in=2, c_out=2, heads=1, size=(1, 8, 8), window=(4, 4, 1),
    )  # fmt: skip
    core = build_core(cfg).double()
    x = torch.randn(1, 2, 1, 8, 8, dtype=torch.float64)
    got = core(x)
    want = torch.zeros_like(got)
    for py in range(2):
        for px in range(2):
            toks, where = [], []
            for wy in range(2):
                for wx in range(2):
                    y0, x0 = 4 * wy + 2 * py, 4 * wx + 2 * px
                    toks.append(x[0, :, 0, y0 : y0 + 2, x0 : x0 + 2].reshape(-1))
                    where.append((y0, x0))
            t = torch.stack(toks)
            q, k, v = core.q(t), core.k(t), core.v(t)
            o = softmax_attention(q / math.sqrt(8), k, v)
            for i, (y0, x0) in enumerate(where):
                want[0, :, 0, y0 : y0 + 2, x0 : x0 + 2] = o[i].reshape(2, 2, 2)
    torch.testing.assert_close(got, want)


def test_temporal_matches_reference_with_stride_and_standardised_logits():
    """T: per head a frame's token is its C/n channels × H'·W' (q, k at stride) or H·W (v);
    logits q·k/sqrt(d) after standardising q and k; d = (C/n)·H'·W'."""
    torch.manual_seed(0)
    cfg = cfg_for("T1", cosine=False, normalize_qk=True, temporal_stride=(2, 2), size=(3, 8, 8))
    core = build_core(cfg).double()
    x = torch.randn(2, 4, 3, 8, 8, dtype=torch.float64)
    got = core(x)
    q, k, v = core.q(x), core.k(x), core.v(x)
    assert q.shape == (2, 8, 3, 4, 4) and v.shape == (2, 8, 3, 8, 8)
    heads = []
    for h in range(2):
        sl = slice(4 * h, 4 * h + 4)
        qh = q[:, sl].transpose(1, 2).reshape(2, 3, -1)  # [B, D, 4·4·4]
        kh = k[:, sl].transpose(1, 2).reshape(2, 3, -1)
        vh = v[:, sl].transpose(1, 2).reshape(2, 3, -1)
        qh = (qh - qh.mean(-1, keepdim=True)) / torch.sqrt(
            qh.var(-1, unbiased=False, keepdim=True) + 1e-5
        )  # noqa: E501
        kh = (kh - kh.mean(-1, keepdim=True)) / torch.sqrt(
            kh.var(-1, unbiased=False, keepdim=True) + 1e-5
        )  # noqa: E501
        yh = softmax_attention(qh / math.sqrt(64), kh, vh)
        heads.append(yh.reshape(2, 3, 4, 8, 8).transpose(1, 2))
    want = core.out(torch.cat(heads, dim=1))
    torch.testing.assert_close(got, want)


# ---- Swin ------------------------------------------------------------------------------------
def roll(t, shift, sign):
    return torch.roll(t, shifts=tuple(sign * s for s in shift), dims=(2, 3, 4))


def per_voxel(lin, t):
    return lin(t.movedim(1, -1)).movedim(-1, 1)


def swin_windows(core, q, k, v, shift, masked: bool):
    """Window attention over maps q, k, v (already rolled): loops over windows and heads,
    cosine logits, the bias by voxel offset, the Swin region mask of the rolled map."""
    cfg = core.cfg
    wh, ww, wd = cfg.window
    bsz, _, dd, hh, wwid = q.shape
    out = torch.zeros_like(v)
    n = cfg.heads
    ch = cfg.c_out // n

    def region(coord, m, w, s):
        if s == 0:
            return 0
        return 0 if coord < m - w else (1 if coord < m - s else 2)

    for b in range(bsz):
        for z0 in range(0, dd, wd):
            for y0 in range(0, hh, wh):
                for x0 in range(0, wwid, ww):
                    vox = [(z0 + i, y0 + j, x0 + k) for i in range(wd) for j in range(wh)
                           for k in range(ww)]  # fmt: skip
                    qt, kt, vt = (torch.stack([m[b, :, z, y, xx] for z, y, xx in vox])
                                  for m in (q, k, v))  # fmt: skip
                    reg = [
                        (region(z, dd, wd, shift[0]), region(y, hh, wh, shift[1]),
                         region(xx, wwid, ww, shift[2]))
                        for z, y, xx in vox
                    ]  # fmt: skip
                    mask = torch.tensor([[a != bb for bb in reg] for a in reg]) if masked else None
                    heads = []
                    for h in range(n):
                        sl = slice(h * ch, (h + 1) * ch)
                        qh, kh = cosine_prep(qt[:, sl], kt[:, sl], core.tau[h])
                        bias = None
                        if core.pos_table is not None:
                            bias = torch.zeros(len(vox), len(vox), dtype=q.dtype)
                            for i, (az, ay, ax) in enumerate(vox):
                                for j, (bz, by, bx) in enumerate(vox):
                                    row = (
                                        (az - bz + wd - 1) * (2 * wh - 1) + (ay - by + wh - 1)
                                    ) * (2 * ww - 1) + (ax - bx + ww - 1)
                                    bias[i, j] = core.pos_table[row, h]
                        heads.append(softmax_attention(qh, kh, vt[:, sl], bias, mask))
                    o = torch.cat(heads, dim=1)
                    for i, (z, y, xx) in enumerate(vox):
                        out[b, :, z, y, xx] = o[i]
    return out


def swin_lin_reference(core, x, shift, masked: bool):
    """Roll x by -s, the same weights' window attention with the mask, roll back by +s."""
    xr = roll(x, shift, -1)
    q, k, v = (per_voxel(m, xr) for m in (core.q, core.k, core.v))
    return per_voxel(core.out, roll(swin_windows(core, q, k, v, shift, masked), shift, +1))


def test_shifted_swin_equals_rolled_masked_window_attention_and_s3_inside():
    torch.manual_seed(0)
    cfg = cfg_for("Sh", attention="lin", c_in=3, c_out=4, size=(4, 4, 8), window=(2, 4, 2))
    sh = build_core(cfg).double()
    s3 = build_core(replace(cfg, code="S3", family="S3")).double()
    s3.load_state_dict(sh.state_dict())
    x = torch.randn(2, 3, 4, 4, 8, dtype=torch.float64)
    shift = (1, 1, 2)  # (D, H, W): floor(w/2) with window (H, W, D) = (2, 4, 2)
    got = sh(x)
    torch.testing.assert_close(got, swin_lin_reference(sh, x, shift, masked=True))
    # interior windows of the rolled map (not the last along a shifted axis) see one region
    rolled_got = roll(got, shift, -1)
    s3_rolled = s3(roll(x, shift, -1))
    inside = (slice(None), slice(None), slice(0, 2), slice(0, 2), slice(0, 4))
    torch.testing.assert_close(rolled_got[inside], s3_rolled[inside])
    # a window touching a region boundary does differ from S3
    assert not torch.allclose(rolled_got[..., 2:4, 2:4, 4:8], s3_rolled[..., 2:4, 2:4, 4:8])


def test_s3_matches_unshifted_reference():
    torch.manual_seed(1)
    cfg = cfg_for("S3", attention="lin", c_in=2, c_out=4, size=(2, 4, 4), window=(2, 2, 2))
    core = build_core(cfg).double()
    x = torch.randn(2, 2, 2, 4, 4, dtype=torch.float64)
    torch.testing.assert_close(core(x), swin_lin_reference(core, x, (0, 0, 0), masked=False))


def test_shifted_swin_with_one_window_per_axis_is_s3():
    """Sh never rejects a window: where the window is the map, the shift is 0."""
    torch.manual_seed(0)
    cfg = cfg_for("Sh", size=(2, 4, 4), window=(4, 4, 2))
    sh = build_core(cfg)
    s3 = build_core(replace(cfg, code="S3", family="S3"))
    s3.load_state_dict(sh.state_dict())
    x = torch.randn(2, 4, 2, 4, 4)
    torch.testing.assert_close(sh(x), s3(x))


def test_shifted_swin_conv_rolls_q_k_v_after_the_convs():
    """With conv Q/K/V, Sh rolls q, k, v (not x: zero padding makes a difference) and rolls
    the result back before the conv out projection. The H axis has a single window here."""
    torch.manual_seed(0)
    cfg = cfg_for("Sh", c_in=2, c_out=4, size=(4, 4, 8), window=(4, 4, 2))
    sh = build_core(cfg).double()
    x = torch.randn(1, 2, 4, 4, 8, dtype=torch.float64)
    shift = (1, 0, 2)
    q, k, v = (roll(m(x), shift, -1) for m in (sh.q, sh.k, sh.v))
    want = sh.out(roll(swin_windows(sh, q, k, v, shift, masked=True), shift, +1))
    torch.testing.assert_close(sh(x), want)


# ---- locality --------------------------------------------------------------------------------
def changed_pixels(core, x, y0, x0):
    with torch.no_grad():
        base = core(x)
        x2 = x.clone()
        x2[0, :, 0, y0, x0] += 1.0
        diff = (core(x2) - base).abs().amax(dim=(0, 1, 2))  # [H, W]
    return diff > 1e-9


@pytest.mark.parametrize("pixel", [(5, 2), (0, 0), (11, 7)])
def test_local_lin_without_out_proj_changes_only_its_window(pixel):
    torch.manual_seed(0)
    cfg = cfg_for("L1", attention="lin", out_proj=False, c_in=3, c_out=4, size=(1, 12, 12))
    core = build_core(cfg).double()
    x = torch.randn(1, 3, 1, 12, 12, dtype=torch.float64)
    changed = changed_pixels(core, x, *pixel)
    want = torch.zeros(12, 12, dtype=torch.bool)
    wy, wx = pixel[0] // 4 * 4, pixel[1] // 4 * 4
    want[wy : wy + 4, wx : wx + 4] = True
    assert torch.equal(changed, want)


@pytest.mark.parametrize("pixel", [(4, 5), (6, 6), (0, 11), (3, 3)])
def test_local_conv_influence_is_touched_windows_dilated_by_one(pixel):
    torch.manual_seed(0)
    cfg = cfg_for("L1", c_in=3, c_out=4, size=(1, 12, 12))
    core = build_core(cfg).double()
    x = torch.randn(1, 3, 1, 12, 12, dtype=torch.float64)
    changed = changed_pixels(core, x, *pixel)
    windows = torch.zeros(12, 12, dtype=torch.bool)
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            y, xx = pixel[0] + dy, pixel[1] + dx
            if 0 <= y < 12 and 0 <= xx < 12:
                wy, wx = y // 4 * 4, xx // 4 * 4
                windows[wy : wy + 4, wx : wx + 4] = True
    want = torch.zeros_like(windows)
    for y in range(12):
        for xx in range(12):
            near = windows[max(0, y - 1) : y + 2, max(0, xx - 1) : xx + 2]
            want[y, xx] = bool(near.any())
    assert torch.equal(changed, want)


# ---- temporal --------------------------------------------------------------------------------
@pytest.mark.parametrize("stride", [(1, 1), (2, 2)])
@pytest.mark.parametrize("cosine", [True, False])
def test_temporal_commutes_with_frame_permutations(stride, cosine):
    torch.manual_seed(0)
    cfg = cfg_for("T1", size=(5, 8, 8), temporal_stride=stride, cosine=cosine)
    core = build_core(cfg).double()
    x = torch.randn(2, 4, 5, 8, 8, dtype=torch.float64)
    y = core(x)
    for perm in ([4, 3, 2, 1, 0], [1, 0, 3, 4, 2]):
        torch.testing.assert_close(core(x[:, :, perm]), y[:, :, perm])


def test_temporal_causal_core_ignores_future_frames():
    torch.manual_seed(0)
    core = build_core(cfg_for("T1", causal=True, size=(6, 4, 4))).double()
    x = torch.randn(1, 4, 6, 4, 4, dtype=torch.float64)
    y = core(x)
    x2 = x.clone()
    x2[:, :, 3:] = torch.randn_like(x2[:, :, 3:])
    y2 = core(x2)
    torch.testing.assert_close(y2[:, :, :3], y[:, :, :3])
    assert not torch.allclose(y2[:, :, 3:], y[:, :, 3:])


# ---- sizes -----------------------------------------------------------------------------------
@pytest.mark.parametrize("code", ["L1", "G1", "L3", "G3", "V2", "V3", "S3", "Sh"])
def test_window_families_run_on_other_dividing_sizes_and_reject_others(code):
    torch.manual_seed(0)
    cfg = cfg_for(code, size=(None, None, None), rel_pos_bias=code in ("L1", "L3", "S3", "Sh"))
    core = build_core(cfg)
    for size in [(2, 4, 4), (4, 8, 12), (6, 12, 4)]:
        assert core(torch.randn(1, 4, *size)).shape == (1, 8, *size)
    with pytest.raises(ShapeError, match="window"):
        core(torch.randn(1, 4, 2, 6, 8))
    if code in {"L3", "G3", "V3", "S3", "Sh"}:
        with pytest.raises(ShapeError, match="depth"):
            core(torch.randn(1, 4, 3, 8, 8))
    else:  # 2D families ignore the window's depth
        assert core(torch.randn(1, 4, 3, 8, 8)).shape == (1, 8, 3, 8, 8)


@pytest.mark.parametrize("code", ["G1", "V2", "G3", "V3"])
def test_size_dependent_tables_need_their_static_size(code):
    torch.manual_seed(0)
    core = build_core(cfg_for(code, size=(4, 8, 8)))
    assert core(torch.randn(1, 4, 4, 8, 8)).shape == (1, 8, 4, 8, 8)
    with pytest.raises(ShapeError, match="relative position"):
        core(torch.randn(1, 4, 4, 12, 8))
    with pytest.raises(ShapeError, match="static"):
        build_core(cfg_for(code, size=(4, None, 8)))


def test_temporal_stride_must_divide():
    core = build_core(cfg_for("T1", temporal_stride=(2, 4), size=(2, None, None)))
    assert core(torch.randn(1, 4, 2, 6, 8)).shape == (1, 8, 2, 6, 8)
    with pytest.raises(ShapeError, match="temporal stride"):
        core(torch.randn(1, 4, 2, 6, 6))


def test_heads_must_divide_channels_and_patch_the_window():
    with pytest.raises(ShapeError, match="heads"):
        build_core(cfg_for("L1", heads=3))
    with pytest.raises(ShapeError, match="patch"):
        build_core(cfg_for("L1", patch=(3, 2, 1)))


# ---- gradcheck -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "code,kw",
    [
        ("L1", {}),
        ("L1", {"attention": "lin", "cosine": False}),
        ("G1", {}),
        ("T1", {"causal": True, "temporal_stride": (2, 2)}),
        ("T1", {"cosine": False}),
        ("L3", {"attention": "lin"}),
        ("G3", {}),
        ("V2", {"cosine": False, "normalize_qk": False}),
        ("V3", {}),
        ("S3", {}),
        ("Sh", {}),
        ("Sh", {"attention": "lin"}),
        ("C2", {"norm": "channel_layer"}),
        ("C3", {"norm": "layer"}),
    ],
)
def test_gradcheck_float64(code, kw):
    torch.manual_seed(0)
    cfg = cfg_for(code, c_in=2, c_out=4, size=(2, 4, 4), window=(2, 2, 2), patch=(1, 1, 1), **kw)
    core = build_core(cfg).double().eval()
    x = torch.randn(1, 2, 2, 4, 4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(core, (x,), eps=1e-6, atol=1e-5)
