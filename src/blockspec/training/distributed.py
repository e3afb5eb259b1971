"""torch.distributed for compiled models: process-group set-up from torchrun's environment,
DDP, and FSDP with every runtime `Block` as a sharding unit.

Nothing here is a training engine of its own: DDP is `torch.nn.parallel.DistributedDataParallel`
on the compiled model as it is, and `fsdp_wrap` calls FSDP2's ``fully_shard`` (or FSDP1 where
FSDP2 is missing). A block's activation checkpointing (``checkpoint = true`` in the spec)
runs inside the block's own forward, so it combines with either: the block's parameters are
gathered before its forward and again before its backward, where the recomputation uses them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

from blockspec.runtime.block import Block

__all__ = ["DistInfo", "blocks", "fsdp_available", "fsdp_wrap", "setup", "teardown", "wrap_ddp"]


@dataclass(frozen=True)
class DistInfo:
    """Where this process runs: its rank among `world` processes, its device, and whether
    `setup` created the process group (and `teardown` should destroy it)."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")
    created: bool = False

    @property
    def main(self) -> bool:
        """Rank 0: the process that prints and writes files."""
        return self.rank == 0


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    try:
        return int(value) if value is not None else default
    except ValueError:
        raise ValueError(f"environment variable {name}={value!r} is not an integer") from None


def setup(device: str | torch.device | None = None) -> DistInfo:
    """The process's place in a run, joining the process group torchrun describes.

    With ``WORLD_SIZE > 1`` in the environment (torchrun sets it, with ``RANK``,
    ``LOCAL_RANK``, ``MASTER_ADDR``, ``MASTER_PORT``), initialise the default process group:
    nccl on CUDA, gloo on the CPU, unless one exists already. `device` None picks
    ``cuda:LOCAL_RANK`` when CUDA is available, else the CPU.
    """
    world = _env_int("WORLD_SIZE", 1)
    local_rank = _env_int("LOCAL_RANK", 0)
    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    dev = torch.device(device)
    if dev.type == "cuda" and dev.index is None:
        dev = torch.device("cuda", local_rank % max(1, torch.cuda.device_count()))
    if dev.type == "cuda":
        torch.cuda.set_device(dev)
    created = False
    if dist.is_available() and dist.is_initialized():
        world, rank = dist.get_world_size(), dist.get_rank()
    elif world > 1:
        if not dist.is_available():
            raise RuntimeError("WORLD_SIZE > 1 but this torch build has no torch.distributed")
        backend = "nccl" if dev.type == "cuda" else "gloo"
        kw: dict[str, Any] = {"device_id": dev} if dev.type == "cuda" else {}
        dist.init_process_group(backend=backend, **kw)
        created = True
        world, rank = dist.get_world_size(), dist.get_rank()
    else:
        rank = 0
    return DistInfo(rank=rank, world=world, local_rank=local_rank, device=dev, created=created)


def teardown(info: DistInfo) -> None:
    """Destroy the process group if `setup` created it."""
    if info.created and dist.is_initialized():
        dist.destroy_process_group()


def wrap_ddp(model: nn.Module, info: DistInfo, **kw: Any) -> nn.Module:
    """`model` in DistributedDataParallel when there is more than one process, else as is.

    A compiled model needs nothing special: every parameter is used in every forward. Batch
    norms keep per-process statistics (DDP broadcasts rank 0's running buffers).
    """
    if info.world <= 1:
        return model
    from torch.nn.parallel import DistributedDataParallel

    if info.device.type == "cuda":
        kw.setdefault("device_ids", [info.device.index])
    return DistributedDataParallel(model, **kw)


def blocks(model: nn.Module) -> list[Block]:
    """Every runtime `Block` of `model` (U-Net enc/dec/bridge, HR-Net stages and fusion
    outputs, SOANet stages), innermost first."""
    return [m for m in reversed(list(model.modules())) if isinstance(m, Block)]


def _fully_shard() -> Any:
    """FSDP2's ``fully_shard`` (torch >= 2.6; torch 2.4-2.5 under ``_composable``), or None."""
    try:
        from torch.distributed.fsdp import fully_shard
    except ImportError:
        try:
            from torch.distributed._composable.fsdp import fully_shard
        except ImportError:
            return None
    return fully_shard


def fsdp_available() -> int:
    """2 when FSDP2 (``fully_shard``) is importable, 1 when only FSDP1 is, 0 when neither."""
    if not dist.is_available():
        return 0
    if _fully_shard() is not None:
        return 2
    try:
        from torch.distributed.fsdp import FullyShardedDataParallel  # noqa: F401
    except ImportError:
        return 0
    return 1


def fsdp_wrap(model: nn.Module, *, version: int | None = None, **kw: Any) -> nn.Module:
    """Shard `model` with FSDP, each runtime `Block` a sharding unit, the rest in the root.

    FSDP2 (``version=2``, the default where available): ``fully_shard(block, **kw)`` for every
    block, innermost first, then ``fully_shard(model, **kw)``; the model is changed in place
    and returned (its names, ``model.spec`` and ``model.ir`` are kept). FSDP1 (``version=1``,
    the fallback): ``FullyShardedDataParallel(model, auto_wrap_policy=ModuleWrapPolicy({Block}),
    use_orig_params=True, **kw)``, so parameter names, and `param_groups`, stay as they were;
    the wrapper is returned. Build the optimizer after wrapping. Needs an initialised process
    group (see `setup`).
    """
    if not (dist.is_available() and dist.is_initialized()):
        raise RuntimeError(
            "fsdp_wrap needs an initialised process group: launch with torchrun and call "
            "blockspec.training.distributed.setup() (or dist.init_process_group) first"
        )
    have = fsdp_available()
    version = version or have
    if version == 2:
        fully_shard = _fully_shard()
        if fully_shard is None:
            raise RuntimeError(f"FSDP2 (fully_shard) is not in torch {torch.__version__}")
        for blk in blocks(model):
            fully_shard(blk, **kw)
        fully_shard(model, **kw)
        return model
    if version == 1:
        from torch.distributed.fsdp import FullyShardedDataParallel
        from torch.distributed.fsdp.wrap import ModuleWrapPolicy

        kw.setdefault("use_orig_params", True)
        return FullyShardedDataParallel(model, auto_wrap_policy=ModuleWrapPolicy({Block}), **kw)
    raise RuntimeError(f"FSDP is not available in torch {torch.__version__}")
