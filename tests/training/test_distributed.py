"""DDP and FSDP on the CPU (gloo), two processes spawned by the test as torchrun would."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

import blockspec as bs
from blockspec.training import train
from blockspec.training.distributed import fsdp_available

from . import workers
from .specs import DDP, FSDP

pytestmark = pytest.mark.skipif(
    not (dist.is_available() and dist.is_gloo_available()), reason="torch without gloo"
)


def _spawn(fn, *args, world: int = 2) -> None:
    mp.spawn(fn, args=(world, workers.free_port(), *args), nprocs=world, join=True)


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_ddp_equals_one_process_on_the_doubled_batch(tmp_path: Path) -> None:
    kw = dict(task="denoise", steps=3, lr=2e-3, eval_every=3, seed=1)
    _spawn(workers.ddp, str(tmp_path), DDP, dict(kw, batch=2))
    ranks = [torch.load(tmp_path / f"{r}.pt") for r in range(2)]
    one = train(DDP, batch=4, device="cpu", log=False, progress=False, **kw)
    # the ranks agree exactly (DDP averages the gradients, then each takes the same step)
    for k, v in ranks[0]["state"].items():
        assert torch.equal(v, ranks[1]["state"][k]), k
    assert ranks[0]["history"][0]["PSNR"] == ranks[1]["history"][0]["PSNR"]  # same eval batch
    # ... and equal one process on the doubled batch, up to float rounding. AdamW divides by
    # the gradient's RMS, so where a gradient is nearly zero (a q/k bias under cosine attention)
    # the rounding of two summation orders can move a weight by a fraction of a step: allow
    # lr / 20 per weight, and require the total difference to be a tiny part of the change
    init = bs.compile(DDP, seed=1).state_dict()
    final = one.model.state_dict()
    for k, v in final.items():
        torch.testing.assert_close(ranks[0]["state"][k], v, rtol=0, atol=1e-4, msg=k)
    diff = sum(float((ranks[0]["state"][k] - v).abs().sum()) for k, v in final.items())
    moved = sum(float((v - init[k]).abs().sum()) for k, v in final.items())
    assert moved > 0 and diff / moved < 1e-4
    assert ranks[0]["history"][0]["loss"] == pytest.approx(one.history[0]["loss"], rel=1e-4)


@pytest.mark.slow
@pytest.mark.timeout(600)
@pytest.mark.parametrize("version", [2, 1])
def test_fsdp_shards_every_block_and_steps(tmp_path: Path, version: int) -> None:
    have = fsdp_available()
    if version == 2 and have < 2:
        pytest.skip(f"torch {torch.__version__} has no FSDP2 fully_shard")
    if version == 1 and have < 1:
        pytest.skip(f"torch {torch.__version__} has no FSDP1")
    _spawn(workers.fsdp, str(tmp_path), FSDP, version)
    results = [torch.load(tmp_path / f"{r}.pt") for r in range(2)]
    if "skip" in results[0]:
        pytest.skip(results[0]["skip"])
    for res in results:
        assert res["blocks"] >= 5 and res["blocks_wrapped"]
        assert res["units"] == res["blocks"] + 1  # every block, then the root
        assert res["names_equal"]
        assert res["moved"] > 1e-3  # the step changed the weights ...
        assert res["max_diff"] < 1e-5  # ... as the whole batch on one process does
