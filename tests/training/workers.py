"""Process bodies for the distributed tests, started by `torch.multiprocessing.spawn` (which
pickles a function by its module path, so they live in an importable module)."""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def join(rank: int, world: int, port: int) -> None:
    """What torchrun sets for one process."""
    os.environ.update(
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
        RANK=str(rank),
        WORLD_SIZE=str(world),
        LOCAL_RANK=str(rank),
    )
    torch.set_num_threads(1)


def ddp(rank: int, world: int, port: int, out: str, spec: str, kw: dict[str, Any]) -> None:
    """`train` as one of `world` torchrun processes; saves the weights and evaluations."""
    from blockspec.training import train

    join(rank, world, port)
    r = train(spec, device="cpu", log=False, progress=False, **kw)
    torch.save({"state": r.model.state_dict(), "history": r.history}, Path(out) / f"{rank}.pt")


def fsdp(rank: int, world: int, port: int, out: str, spec: str, version: int) -> None:
    """Shard a compiled model, take one SGD step on this rank's half of a batch, and compare
    the gathered weights with an unsharded copy stepped on the whole batch."""
    import torch.distributed as dist

    import blockspec as bs
    from blockspec.training import distributed as D
    from blockspec.training import param_groups
    from blockspec.training.data import Synthetic

    join(rank, world, port)
    info = D.setup("cpu")
    result: dict[str, Any] = {}
    try:
        ref, model = bs.compile(spec), bs.compile(spec)
        n_blocks = len(D.blocks(model))
        try:
            wrapped = D.fsdp_wrap(model, version=version)
        except RuntimeError as exc:
            result["skip"] = f"FSDP{version} on CPU: {exc}"
            return
        if version == 2:
            from torch.distributed.fsdp import FSDPModule

            units = [m for m in wrapped.modules() if isinstance(m, FSDPModule)]
            result["units"] = len(units)
            result["blocks_wrapped"] = all(isinstance(b, FSDPModule) for b in D.blocks(wrapped))
        else:
            from torch.distributed.fsdp import FullyShardedDataParallel as FSDP

            units = [m for m in wrapped.modules() if isinstance(m, FSDP)]
            result["units"] = len(units)
            result["blocks_wrapped"] = all(
                isinstance(m, FSDP) for m in wrapped.modules()
                if any(isinstance(c, D.Block) for c in m.children())
            )  # fmt: skip
        result["blocks"] = n_blocks
        x, y = Synthetic("denoise", 1, (2, 16, 16), seed=5).train_batch(0, 2 * world)
        half = slice(rank * 2, rank * 2 + 2)
        opt = torch.optim.SGD(param_groups(wrapped, 0.0), lr=0.5)
        ref_opt = torch.optim.SGD(param_groups(ref, 0.0), lr=0.5)
        for net, o, xb, yb in ((wrapped, opt, x[half], y[half]), (ref, ref_opt, x, y)):
            net.train()
            loss = F.mse_loss(net(xb), yb)
            loss.backward()
            o.step()
        if version == 2:
            got = {n: p.full_tensor() for n, p in wrapped.named_parameters()}
        else:
            with FSDP.summon_full_params(wrapped):
                got = {n: p.detach().clone() for n, p in wrapped.module.named_parameters()}
        want = dict(ref.named_parameters())
        result["names_equal"] = set(got) == set(want)
        result["max_diff"] = max(float((got[n] - want[n]).abs().max()) for n in want)
        result["moved"] = max(float((want[n] - p).abs().max()) for n, p in
                              bs.compile(spec).named_parameters())  # fmt: skip
    finally:
        torch.save(result, Path(out) / f"{rank}.pt")
        dist.barrier()
        D.teardown(info)
        if dist.is_initialized():
            dist.destroy_process_group()
