"""The modules behind `norm_eps`, `qkv_bias` and `downsample_norm` compute what
docs/semantics.md says: written against plain torch functions, never against the modules'
own code paths."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from blockspec.runtime.cell import Cell
from blockspec.runtime.config import ResampleConfig
from blockspec.runtime.norms import NORM_LAYERS, build_norm
from blockspec.runtime.sampling import DownStep, Resample

from .param_counts import ATTENTION_CODES, cfg_for, n_params

NORM_TYPES = (nn.LayerNorm, nn.modules.batchnorm._BatchNorm, nn.modules.instancenorm._InstanceNorm)


def _norms(m: nn.Module) -> dict[str, nn.Module]:
    return {name: mod for name, mod in m.named_modules() if isinstance(mod, NORM_TYPES)}


# ------------------------------------------------------------------------------- norm_eps
@pytest.mark.parametrize("kind", sorted(NORM_LAYERS))
def test_every_norm_kind_takes_an_eps_and_defaults_to_torchs(kind: str) -> None:
    assert build_norm(kind, 3, (2, 4, 4)).eps == 1e-5
    assert build_norm(kind, 3, (2, 4, 4), eps=0.25).eps == 0.25


def test_channel_layer_eps_enters_the_variance() -> None:
    """(x - mean_c) / sqrt(var_c + eps) at every pixel, var the biased variance over C."""
    torch.manual_seed(0)
    x = torch.randn(2, 3, 2, 4, 5, dtype=torch.float64)
    eps = 0.5  # large, so that a wrong eps shows
    norm = build_norm("channel_layer", 3, (2, 4, 5), eps=eps).double()
    mean = x.mean(dim=1, keepdim=True)
    var = ((x - mean) ** 2).mean(dim=1, keepdim=True)
    torch.testing.assert_close(norm(x), (x - mean) / torch.sqrt(var + eps))


@pytest.mark.parametrize("code", ["L1", "S3", "T1", "C2", "C3", "V2"])
@pytest.mark.parametrize("norm", ["channel_layer", "batch2d", "instance3d", "layer"])
def test_norm_eps_sets_every_norm_of_the_cell(code: str, norm: str) -> None:
    cell = Cell(cfg_for(code, norm=norm, norm_eps=1e-3))
    norms = _norms(cell)
    # norm1, and norm2 when there is a mixer, and the conv core's norm of C2/C3
    want = {"norm1"} | ({"norm2"} if cell.cfg.has_mixer else set())
    want |= {"core.norm"} if code.startswith("C") else set()
    assert set(norms) == want
    assert {n.eps for n in norms.values()} == {1e-3}
    default = Cell(cfg_for(code, norm=norm))
    assert {n.eps for n in _norms(default).values()} == {1e-5}


# ------------------------------------------------------------------------------- qkv_bias
def _qkv_bias_names(m: nn.Module) -> set[str]:
    return {n for n, _ in m.named_parameters() if n.split(".")[-2:-1] in (["q"], ["k"], ["v"])}


@pytest.mark.parametrize("code", ATTENTION_CODES)
@pytest.mark.parametrize("attention", ["conv", "lin"])
def test_qkv_bias_false_drops_exactly_the_three_biases(code: str, attention: str) -> None:
    kw = dict(attention=attention, c_in=8, c_out=8)
    with_bias = Cell(cfg_for(code, **kw))
    without = Cell(cfg_for(code, qkv_bias=False, **kw))
    names = {n for n, _ in without.named_parameters()}
    assert not {f"attn.{x}.bias" for x in "qkv"} & names
    assert {f"attn.{x}.weight" for x in "qkv"} <= names
    if with_bias.cfg.out_proj:
        assert "attn.out.bias" in names  # the output projection keeps its bias
    # a bias of C_out per conv; of C_out·|token| per lin on tokens (T is always conv)
    lin = attention == "lin" and code != "T1"
    token = {"L1": 4, "G1": 4, "L3": 4, "G3": 4, "V2": 16, "V3": 32}.get(code, 1) if lin else 1
    assert n_params(with_bias) - n_params(without) == 3 * 8 * token


@pytest.mark.parametrize("code", ATTENTION_CODES)
@pytest.mark.parametrize("attention", ["conv", "lin"])
def test_qkv_bias_false_is_the_biased_cell_with_zero_biases(code: str, attention: str) -> None:
    """The fused Q/K/V projection of the runtime still runs without biases."""
    torch.manual_seed(0)
    cfg = cfg_for(code, attention=attention, c_in=4, c_out=8)
    biased = Cell(cfg).double().eval()
    for x in "qkv":
        nn.init.zeros_(getattr(biased.attn, x).bias)
    free = Cell(cfg_for(code, attention=attention, c_in=4, c_out=8, qkv_bias=False))
    free = free.double().eval()
    missing, unexpected = free.load_state_dict(biased.state_dict(), strict=False)
    assert not missing and set(unexpected) == {f"attn.{x}.bias" for x in "qkv"}
    x = torch.randn(1, 4, 4, 8, 8, dtype=torch.float64)
    torch.testing.assert_close(free(x), biased(x))
    free.train()
    free(x).sum().backward()  # every parameter still gets a gradient
    assert all(p.grad is not None for p in free.parameters())


def test_lin_attention_without_qkv_bias_by_hand() -> None:
    """S3, one voxel per token, one head, dot-product logits: q = W_q x, no bias."""
    torch.manual_seed(1)
    cfg = cfg_for(
        "S3", attention="lin", qkv_bias=False, c_in=4, c_out=4, heads=1, cosine=False,
        normalize_qk=False, rel_pos_bias=False, window=(2, 2, 1), size=(1, 2, 2),
    )  # fmt: skip
    cell = Cell(cfg).double().eval()
    attn = cell.attn
    x = torch.randn(1, 4, 1, 2, 2, dtype=torch.float64)
    tokens = x.flatten(2).transpose(1, 2)  # [1, 4 voxels, C], one window = the whole map
    q, k, v = (tokens @ getattr(attn, n).weight.T for n in "qkv")
    w = torch.softmax(q @ k.transpose(1, 2) / 2.0, dim=-1)  # sqrt(d) = sqrt(4)
    y = F.linear(w @ v, attn.out.weight, attn.out.bias)
    torch.testing.assert_close(attn(x), y.transpose(1, 2).reshape(1, 4, 1, 2, 2))


# ------------------------------------------------------------------------ downsample_norm
def _fold(x: torch.Tensor, depth: bool) -> torch.Tensor:
    """Space-to-depth by indexing: channel (c, dh, dw[, dd]), c outermost."""
    parts = []
    for c in range(x.shape[1]):
        for dh in range(2):
            for dw in range(2):
                for dd in range(2) if depth else (None,):
                    sub = x[:, c, :, dh::2, dw::2] if dd is None else x[:, c, dd::2, dh::2, dw::2]
                    parts.append(sub)
    return torch.stack(parts, dim=1)


@pytest.mark.parametrize("depth", [False, True])
def test_merge_step_with_norm_is_fold_layer_norm_conv1(depth: bool) -> None:
    torch.manual_seed(2)
    step = DownStep("merge", 3, 5, depth=depth, norm="channel_layer").double()
    folded = 3 * (8 if depth else 4)
    assert [n for n, _ in step.named_parameters()] == ["norm.weight", "norm.bias", "conv.weight"]
    assert step.norm.normalized_shape == (folded,) and step.norm.eps == 1e-5
    with torch.no_grad():  # not the identity initialisation
        step.norm.weight.normal_()
        step.norm.bias.normal_()
    x = torch.randn(2, 3, 4, 6, 8, dtype=torch.float64)
    f = _fold(x, depth)  # [B, folded, D', H/2, W/2]
    n = F.layer_norm(f.movedim(1, -1), (folded,), step.norm.weight, step.norm.bias, eps=1e-5)
    want = F.conv3d(n.movedim(-1, 1), step.conv.weight)
    torch.testing.assert_close(step(x), want)
    assert n_params(step) == 2 * folded + folded * 5


def test_resample_puts_a_norm_in_every_merge_step() -> None:
    r = Resample(ResampleConfig("down", "merge", (2, 4, 8), depth=False, norm="channel_layer"))
    keys = list(r.state_dict())
    assert keys == [
        "step0.norm.weight", "step0.norm.bias", "step0.conv.weight",
        "step1.norm.weight", "step1.norm.bias", "step1.conv.weight",
    ]  # fmt: skip
    plain = Resample(ResampleConfig("down", "merge", (2, 4, 8)))
    assert list(plain.state_dict()) == ["step0.conv.weight", "step1.conv.weight"]
    assert n_params(r) - n_params(plain) == 2 * 4 * 2 + 2 * 4 * 4


def test_a_down_norm_needs_the_merge_method() -> None:
    with pytest.raises(ValueError, match="merge"):
        DownStep("stride", 2, 4, norm="channel_layer")
    with pytest.raises(ValueError, match="unknown downsample norm"):
        DownStep("merge", 2, 4, norm="batch2d")
