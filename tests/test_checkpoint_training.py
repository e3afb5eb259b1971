"""Resumable checkpoints: optimizer, scheduler, step and extra; recorded budgets; format 1 files;
the hash over every field."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch

import blockspec as bs
from blockspec import checkpoint
from blockspec.checkpoint import TrainingCheckpoint, load_training, weights_sha256
from blockspec.errors import CheckpointError
from tiny_specs import HRNET, UNET, example_input

# about 18 GB of activations at its fixed size (over the 8 GiB default), 15k parameters
BIG_ACTIVATIONS = """
input { channels = 1, D = 1, H = 4096, W = 4096 }
cell { norm = batch2d }
backbone hrnet { channels = 4, levels = 2, blocks = ["C2"] }
"""


def _payload(path: Path) -> dict:
    return torch.load(path, weights_only=True)


def _resign(path: Path, payload: dict) -> None:
    payload["weights_sha256"] = weights_sha256(payload["state_dict"])
    payload["sha256"] = checkpoint._payload_sha256(payload)
    torch.save(payload, path)


def _setup(model: torch.nn.Module):
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.05)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=40)
    return opt, sched


def _train(model, opt, sched, steps: int, gen: torch.Generator) -> None:
    """Denoise random inputs: the data, like the weights, depends only on the generator."""
    model.train()
    shape = example_input(model).shape
    for _ in range(steps):
        x = torch.randn(shape, generator=gen)
        noisy = x + 0.1 * torch.randn(shape, generator=gen)
        loss = torch.nn.functional.mse_loss(model(noisy)[:, :1], x)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()


def test_resume_equals_uninterrupted_training_bit_for_bit(tmp_path: Path) -> None:
    torch.set_num_threads(1)
    torch.manual_seed(123)  # drop path draws from the global generator
    straight = bs.compile(UNET, seed=5)
    opt, sched = _setup(straight)
    _train(straight, opt, sched, 20, torch.Generator().manual_seed(0))

    torch.manual_seed(123)
    first = bs.compile(UNET, seed=5)
    opt, sched = _setup(first)
    gen = torch.Generator().manual_seed(0)
    _train(first, opt, sched, 10, gen)
    path = tmp_path / "step10.pt"
    rng = {"gen": gen.get_state(), "torch": torch.get_rng_state()}
    bs.save(first, path, optimizer=opt, scheduler=sched, step=10, extra=rng)
    del first, opt, sched
    torch.manual_seed(999)  # a new process would start elsewhere

    ck = load_training(path)
    assert isinstance(ck, TrainingCheckpoint) and ck.step == 10 and ck.model.training
    opt, sched = _setup(ck.model)
    opt.load_state_dict(ck.optimizer_state)
    sched.load_state_dict(ck.scheduler_state)
    gen = torch.Generator()
    gen.set_state(ck.extra["gen"])
    torch.set_rng_state(ck.extra["torch"])
    _train(ck.model, opt, sched, 10, gen)

    want, got = straight.state_dict(), ck.model.state_dict()
    assert list(want) == list(got)
    for k in want:
        assert torch.equal(want[k], got[k]), k
    with pytest.raises(dataclasses.FrozenInstanceError):
        ck.step = 3  # type: ignore[misc]


def test_training_fields_round_trip_and_default_to_none(tmp_path: Path) -> None:
    model = bs.compile(HRNET, seed=2)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    extra = {"loss": [1.5, float("inf")], "name": "run-1", 3: (True, None), "t": torch.ones(2)}
    bs.save(model, tmp_path / "a.pt", optimizer=opt.state_dict(), step=7, extra=extra)
    ck = load_training(tmp_path / "a.pt")
    assert ck.step == 7 and ck.scheduler_state is None
    assert ck.optimizer_state["param_groups"] == opt.state_dict()["param_groups"]
    assert ck.extra["loss"] == [1.5, float("inf")] and ck.extra[3] == (True, None)
    assert torch.equal(ck.extra["t"], torch.ones(2)) and ck.extra["name"] == "run-1"
    bs.save(model, tmp_path / "b.pt")
    ck = load_training(tmp_path / "b.pt")
    assert (ck.optimizer_state, ck.scheduler_state, ck.step, ck.extra) == (None,) * 4
    assert not bs.load(tmp_path / "a.pt").training  # bs.load still gives eval mode


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"extra": {"s": {1, 2}}}, r"extra\['s'\]: it is a builtins.set"),
        ({"extra": [object()]}, r"extra\[0\]: it is a builtins.object"),
        ({"extra": {(1, 2): 3}}, "key \\(1, 2\\) is a tuple"),
        ({"step": 1.5}, "step must be an int"),
        ({"step": True}, "step must be an int"),
        ({"optimizer": 3}, "optimizer must be an object with .state_dict"),
        ({"extra": {"m": torch.zeros(2, device="meta")}}, r"extra\['m'\]: it is a meta tensor"),
    ],
)
def test_values_a_checkpoint_cannot_hold_are_refused(tmp_path: Path, kwargs, match) -> None:
    with pytest.raises(CheckpointError, match=match):
        bs.save(bs.compile(HRNET), tmp_path / "x.pt", **kwargs)
    assert list(tmp_path.iterdir()) == []


def test_a_self_containing_extra_is_refused(tmp_path: Path) -> None:
    loop: list = []
    loop.append(loop)
    with pytest.raises(CheckpointError, match="contains itself"):
        bs.save(bs.compile(HRNET), tmp_path / "x.pt", extra=loop)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("spec", lambda s: s.replace("instance2d", "instance3d")),
        ("seed", lambda s: s + 1),
        ("step", lambda s: s + 1),
        ("extra", lambda e: {**e, "lr": 0.5}),
        ("optimizer_state", lambda o: {**o, "param_groups": [{**o["param_groups"][0], "lr": 1}]}),
        ("budgets", lambda b: {**b, "max_params": 1e12}),
        ("blockspec_version", lambda v: v + ".1"),
    ],
)
def test_any_field_edited_after_saving_is_refused(tmp_path: Path, field: str, value) -> None:
    """Regression: the hash covered the weights only, so an edited spec loaded silently as
    another network (here: 2D instance norms became 3D ones, the same weight keys)."""
    model = bs.compile(UNET, seed=3)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    path = tmp_path / "m.pt"
    bs.save(model, path, optimizer=opt, step=4, extra={"lr": 0.1})
    payload = _payload(path)
    payload[field] = value(payload[field])
    torch.save(payload, path)  # the weights and their hash are untouched
    for loader in (bs.load, load_training):
        with pytest.raises(CheckpointError, match="checkpoint hash mismatch") as e:
            loader(path)
        assert "weights are intact" in e.value.message


def test_edited_spec_with_the_same_weight_keys_is_refused(tmp_path: Path) -> None:
    model = bs.compile(UNET, seed=3)
    path = tmp_path / "m.pt"
    bs.save(model, path)
    payload = _payload(path)
    edited = payload["spec"].replace("instance2d", "instance3d")
    other = bs.compile(edited, seed=3)  # the edit keeps every key and shape: it would load
    shapes = {k: v.shape for k, v in model.state_dict().items()}
    assert edited != payload["spec"]
    assert {k: v.shape for k, v in other.state_dict().items()} == shapes
    payload["spec"] = edited
    torch.save(payload, path)
    with pytest.raises(CheckpointError, match="hash mismatch"):
        bs.load(path)


def test_load_keeps_the_budget_the_model_was_compiled_with(tmp_path: Path) -> None:
    with pytest.raises(bs.BudgetError):
        bs.compile(BIG_ACTIVATIONS)
    model = bs.compile(BIG_ACTIVATIONS, max_activation_bytes=2**40, seed=1)
    path = tmp_path / "big.pt"
    bs.save(model, path)
    recorded = _payload(path)["budgets"]
    assert recorded["max_activation_bytes"] > 8 * 2**30
    loaded = bs.load(path)  # no budget given: the recorded one applies
    assert weights_sha256(loaded.state_dict()) == weights_sha256(model.state_dict())
    assert load_training(path).model is not None
    with pytest.raises(CheckpointError, match="over the budget"):  # an explicit one still counts
        bs.load(path, max_activation_bytes=2**30)


def test_format_1_files_still_load(tmp_path: Path) -> None:
    model = bs.compile(HRNET, seed=6)
    path = tmp_path / "v1.pt"
    bs.save(model, path)
    payload = _payload(path)
    v1 = {k: payload[k] for k in checkpoint._FIELDS_V1}
    v1["format_version"] = 1
    torch.save(v1, path)
    loaded = bs.load(path)
    assert weights_sha256(loaded.state_dict()) == weights_sha256(model.state_dict())
    ck = load_training(path)
    assert (ck.optimizer_state, ck.scheduler_state, ck.step, ck.extra) == (None,) * 4
    v1["state_dict"][next(iter(v1["state_dict"]))].view(-1)[0] += 1  # weights still covered
    torch.save(v1, path)
    with pytest.raises(CheckpointError, match="weights hash mismatch"):
        bs.load(path)


@pytest.mark.parametrize(
    ("field", "value", "match"),
    [
        ("step", "3", "field step is a str"),
        ("optimizer_state", [1], "field optimizer_state is a list"),
        ("budgets", {"max_params": -1, "max_activation_bytes": 1}, "budgets\\['max_params'\\]"),
        ("sha256", None, "field sha256 is a NoneType"),
    ],
)
def test_damaged_training_fields(tmp_path: Path, field: str, value, match: str) -> None:
    path = tmp_path / "m.pt"
    bs.save(bs.compile(HRNET), path, step=1)
    payload = _payload(path)
    payload[field] = value
    _resign(path, payload) if field != "sha256" else torch.save(payload, path)
    with pytest.raises(CheckpointError, match=match):
        load_training(path)


def test_a_torch_compiled_model_saves_as_its_module(tmp_path: Path) -> None:
    model = bs.compile(HRNET, seed=8)
    bs.save(torch.compile(model), tmp_path / "c.pt")
    assert weights_sha256(bs.load(tmp_path / "c.pt").state_dict()) == weights_sha256(
        model.state_dict()
    )


def test_meta_and_sparse_tensors_are_named_when_saving(tmp_path: Path) -> None:
    """Regression: NotImplementedError (meta) and RuntimeError (sparse) escaped bs.save."""
    with torch.device("meta"):
        skeleton = bs.compile(HRNET)
    with pytest.raises(CheckpointError, match=r"tensor\(s\) of the model cannot be stored") as e:
        bs.save(skeleton, tmp_path / "meta.pt")
    n = len(skeleton.state_dict())
    assert f"cannot save: {n} tensor(s)" in e.value.message and "(a meta tensor" in e.value.message
    assert "and " in e.value.message and "materialise" in e.value.hint
    model = bs.compile(HRNET)
    norm = next(m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d))
    norm.running_mean = norm.running_mean.to_sparse()
    key = next(k for k, v in model.state_dict().items() if v.is_sparse)
    with pytest.raises(CheckpointError, match="1 tensor") as e:
        bs.save(model, tmp_path / "sparse.pt")
    assert f"{key} (a sparse_coo tensor" in e.value.message and ".to_dense()" in e.value.hint
    assert list(tmp_path.iterdir()) == []
