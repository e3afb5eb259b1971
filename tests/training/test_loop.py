"""`train`: it learns, it resumes bit-identically, it writes loadable checkpoints, and a spec
whose output does not fit the task is a clear error."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

import blockspec as bs
from blockspec.errors import CheckpointError, SpecValueError
from blockspec.training import train
from blockspec.training.state import load_state

from .specs import CLASSIFY, DENOISE, HRNET_SEGMENT, RESUME, SEGMENT


def test_denoising_gains_psnr() -> None:
    """60 steps on a tiny U-Net: at least 1 dB over the noisy input (3.5 dB measured)."""
    r = train(DENOISE, task="denoise", steps=60, batch=4, lr=5e-3, eval_every=20, log=False)
    assert r.baseline == pytest.approx(20.0, abs=0.5)  # noise sigma 0.1 on [0, 1] images
    assert r.final - r.baseline >= 1.0
    assert [h["step"] for h in r.history] == [20, 40, 60]
    assert not r.model.training


def test_resume_equals_an_uninterrupted_run(tmp_path: Path) -> None:
    """10 steps, checkpoint, 10 more == 20 steps: weights, batch-norm statistics, optimizer
    state and evaluations, bit for bit (the spec has drop-path and batch norms)."""
    kw = dict(task="denoise", steps=20, batch=2, lr=2e-3, eval_every=5, seed=3, log=False)
    first = train(RESUME, out=tmp_path / "a", until=10, **kw)
    assert first.step == 10 and first.checkpoint == tmp_path / "a" / "last.pt"
    assert load_state(first.checkpoint).step == 10
    resumed = train(RESUME, out=tmp_path / "b", resume=tmp_path / "a", **kw)
    straight = train(RESUME, out=tmp_path / "c", **kw)
    assert resumed.step == straight.step == 20
    a, b = resumed.model.state_dict(), straight.model.state_dict()
    assert a.keys() == b.keys()
    assert any("running_mean" in k for k in a)
    for k in a:
        assert torch.equal(a[k], b[k]), k
    assert resumed.history == [h | {"seconds": r["seconds"]} for h, r in
                               zip(straight.history[2:], resumed.history)]  # fmt: skip
    sa = load_state(tmp_path / "b" / "last.pt").optimizer_state
    sb = load_state(tmp_path / "c" / "last.pt").optimizer_state
    for i, st in sa["state"].items():
        for name, value in st.items():
            assert torch.equal(value, sb["state"][i][name]), (i, name)


def test_the_checkpoint_loads_as_a_model_and_metrics_are_logged(tmp_path: Path) -> None:
    r = train(DENOISE, steps=4, batch=2, eval_every=2, out=tmp_path, log=False)
    model = bs.load(tmp_path / "last.pt")
    for k, v in r.model.state_dict().items():
        assert torch.equal(model.state_dict()[k], v)
    lines = (tmp_path / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["step"] for line in lines] == [2, 4]
    st = load_state(tmp_path / "last.pt")
    assert st.step == 4 and st.extra["task"] == "denoise" and st.optimizer_state is not None


def test_segmentation_learns_the_masks() -> None:
    r = train(SEGMENT, task="segment", steps=30, batch=4, lr=3e-3, eval_every=30, log=False)
    assert r.metric == "Dice" and r.final > 0.5


def test_an_hrnet_trains_on_three_class_segmentation() -> None:
    r = train(HRNET_SEGMENT, task="segment", steps=3, batch=2, eval_every=3, log=False)
    assert r.metric == "Dice" and 0.0 <= r.final <= 1.0 and r.step == 3


def test_classification_runs() -> None:
    r = train(CLASSIFY, task="classify", steps=4, batch=4, eval_every=2, log=False)
    assert r.metric == "acc" and 0.0 <= r.final <= 1.0 and r.baseline is None


@pytest.mark.parametrize(
    "spec, task, words",
    [
        (CLASSIFY, "denoise", "head conv { out_channels = 1 }"),
        (DENOISE, "classify", "head classify"),
        (CLASSIFY, "segment", "out_channels = 2"),
        (DENOISE.replace("out_channels = 1", "out_channels = 9"), "segment", "at most 7"),
        (CLASSIFY.replace("classes = 4", "classes = 9"), "classify", "classes = 6"),
    ],
)
def test_an_output_that_does_not_fit_the_task_is_a_spec_error(spec, task, words) -> None:
    with pytest.raises(SpecValueError) as info:
        train(spec, task=task, steps=1, log=False)
    assert words in str(info.value)


def test_bad_arguments_and_foreign_checkpoints_are_refused(tmp_path: Path) -> None:
    with pytest.raises(SpecValueError, match="unknown task"):
        train(DENOISE, task="inpaint")
    with pytest.raises(SpecValueError, match="steps"):
        train(DENOISE, steps=0)
    train(DENOISE, steps=1, out=tmp_path, log=False)
    with pytest.raises(CheckpointError, match="another spec"):
        train(SEGMENT, task="segment", steps=2, resume=tmp_path, log=False)
    with pytest.raises(CheckpointError, match="trained on task denoise"):
        train(DENOISE, task="segment", steps=2, resume=tmp_path, log=False)
    with pytest.raises(SpecValueError, match="compiled by blockspec"):
        train(torch.nn.Conv3d(1, 1, 1), steps=1, log=False)
    bare = bs.compile(DENOISE)
    del bare.spec
    with pytest.raises(CheckpointError, match="no .spec"):
        train(bare, steps=1, out=tmp_path / "x", log=False)
    with pytest.raises(CheckpointError, match="no such checkpoint"):
        train(DENOISE, steps=2, resume=tmp_path / "missing.pt", log=False)


def test_the_callers_rng_is_left_alone_and_a_finished_run_reports(tmp_path: Path) -> None:
    torch.manual_seed(123)
    before = torch.get_rng_state()
    train(RESUME, steps=2, batch=2, out=tmp_path, log=False)
    assert torch.equal(torch.get_rng_state(), before)
    again = train(RESUME, steps=2, batch=2, resume=tmp_path, log=False)
    assert again.step == 2 and len(again.history) == 1 and again.history[0]["loss"] is None
