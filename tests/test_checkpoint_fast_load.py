"""bs.load builds the model without initialising its parameters and takes the file's tensors
(`uninitialised_parameters` + ``load_state_dict(assign=True)``): the result must be the model
the old path gave (compile with the seed, then copy the weights in), in every respect."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch.overrides import TorchFunctionMode

import blockspec as bs
from blockspec.checkpoint import load_training
from blockspec.runtime.network import _VALUE_WRITES, uninitialised_parameters
from tiny_specs import TINY, example_input, flat

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


class _CountParameterWrites(TorchFunctionMode):
    """Counts the value writes into parameters that reach torch (not skipped)."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        target = args[0] if args else kwargs.get("tensor")
        if getattr(func, "__name__", None) in _VALUE_WRITES and isinstance(
            target, torch.nn.Parameter
        ):
            self.count += 1
        return func(*args, **kwargs)


def _reference(path: Path) -> torch.nn.Module:
    """The old path: compile with the stored seed (parameters initialised), copy weights in."""
    payload = torch.load(path, weights_only=True)
    model = bs.compile(payload["spec"], seed=payload["seed"])
    model.load_state_dict(payload["state_dict"])
    return model.eval()


def _assert_identical(got: torch.nn.Module, want: torch.nn.Module) -> None:
    assert type(got) is type(want) and repr(got) == repr(want)
    assert got.training == want.training
    assert [m.training for m in got.modules()] == [m.training for m in want.modules()]
    gp, wp = dict(got.named_parameters()), dict(want.named_parameters())
    assert list(gp) == list(wp)
    for k in wp:
        a, b = gp[k], wp[k]
        assert type(a) is type(b) and a.requires_grad == b.requires_grad, k
        assert a.dtype == b.dtype and a.stride() == b.stride() and torch.equal(a, b), k
    gb, wb = dict(got.named_buffers()), dict(want.named_buffers())  # non-persistent ones too
    assert list(gb) == list(wb)
    for k in wb:
        assert gb[k].dtype == wb[k].dtype and torch.equal(gb[k], wb[k]), k
    assert got.spec == want.spec and got.seed == want.seed and got.ir == want.ir


def _perturbed(spec: str, seed: int) -> torch.nn.Module:
    model = bs.compile(spec, seed=seed)
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn(p.shape, generator=gen))
        model.train()
        model(example_input(model))  # batch-norm statistics move
    return model


@pytest.mark.parametrize("kind", sorted(TINY))
def test_loaded_model_equals_the_initialise_then_copy_path(kind: str, tmp_path: Path) -> None:
    path = tmp_path / "m.pt"
    bs.save(_perturbed(TINY[kind], seed=4), path)
    want = _reference(path)
    got = bs.load(path)
    _assert_identical(got, want)
    x = example_input(got)
    with torch.no_grad():
        for a, b in zip(flat(got(x)), flat(want(x)), strict=True):
            assert torch.equal(a, b)
    ck = load_training(path)
    _assert_identical(ck.model.eval(), want)


@pytest.mark.timeout(900)
@pytest.mark.parametrize(
    "name", ["hrnet3", "soanet_swin3d", pytest.param("vit_b16", marks=pytest.mark.slow)]
)
def test_loaded_examples_equal_the_old_path(name: str, tmp_path: Path) -> None:
    path = tmp_path / "m.pt"
    bs.save(bs.compile(EXAMPLES / f"{name}.bspec", seed=2), path)
    _assert_identical(bs.load(path), _reference(path))


def test_load_does_not_initialise_parameters(tmp_path: Path) -> None:
    """Regression: bs.load drew and wrote every initial weight (ViT-B/16: 86M values, ~20 s
    on a busy machine) before overwriting it with the file's."""
    path = tmp_path / "m.pt"
    bs.save(bs.compile(TINY["soanet"]), path)
    with _CountParameterWrites() as counter:
        bs.load(path)
    assert counter.count == 0
    with _CountParameterWrites() as counter:  # the counter does see the usual path's writes
        bs.compile(TINY["soanet"])
    assert counter.count > 10


def test_file_tensors_laid_out_unlike_the_model_are_copied(tmp_path: Path) -> None:
    """A saved float64 or non-contiguous tensor is cast and laid out as the old copy did."""
    model = bs.compile(TINY["hrnet"], seed=1)
    path = tmp_path / "m.pt"
    bs.save(model, path)
    payload = torch.load(path, weights_only=True)
    sd = payload["state_dict"]
    conv = next(k for k, v in sd.items() if v.dim() == 5)
    sd[conv] = sd[conv].double()
    lin = next(k for k, v in sd.items() if v.dim() == 2 and v.shape[0] != v.shape[1])
    sd[lin] = sd[lin].t().contiguous().t()  # same values, transposed strides
    from blockspec import checkpoint

    payload["weights_sha256"] = checkpoint.weights_sha256(sd)
    payload["sha256"] = checkpoint._payload_sha256(payload)
    torch.save(payload, path)
    _assert_identical(bs.load(path), _reference(path))


def test_uninitialised_parameters_keeps_everything_but_the_values() -> None:
    torch.manual_seed(0)
    with uninitialised_parameters():
        lin = torch.nn.Linear(3, 4)
        frozen = torch.nn.Parameter(torch.ones(2), requires_grad=False)
        torch.nn.init.normal_(frozen)
        frozen.requires_grad_(True)  # not a value write: still applied
        norm = torch.nn.BatchNorm1d(4)
    state = torch.random.get_rng_state()
    torch.manual_seed(0)
    assert torch.equal(state, torch.random.get_rng_state())  # no random numbers were drawn
    assert lin.weight.shape == (4, 3) and lin.weight.requires_grad
    assert torch.equal(frozen, torch.ones(2)) and frozen.requires_grad
    assert torch.equal(norm.running_var, torch.ones(4))  # buffers are computed as usual
