"""`train`: fit a compiled model to a synthetic task, with evaluation, checkpoints, resume and
torchrun launch.

Every random draw of a step derives from (seed, step): the data from (seed, sample index), the
dropout / drop-path masks from the global RNG seeded at the start of each step. So a run that
resumes from a checkpoint at step k repeats exactly what an uninterrupted run does from step k
(bit-identical on the CPU with one thread), and no RNG state needs saving.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

from blockspec.errors import CheckpointError, SpecValueError
from blockspec.training import distributed as D
from blockspec.training import tasks as T
from blockspec.training.data import Synthetic, mix_seed, psnr
from blockspec.training.params import param_groups
from blockspec.training.progress import Progress, format_duration
from blockspec.training.state import load_state, save_state

__all__ = ["TrainResult", "default_size", "train"]

_DROPOUT_STREAM = 2  # the mix_seed stream of the per-step global RNG seed


@dataclass
class TrainResult:
    """What `train` did: the trained model (unwrapped, in eval mode), the step reached, one
    record per evaluation (``step``, ``loss``, the metric, ``seconds``), the metric's name,
    the metric of the input itself (denoise: the noisy input's PSNR; else None) and the last
    checkpoint written (or None)."""

    model: nn.Module
    step: int
    history: list[dict] = field(default_factory=list)
    metric: str = ""
    baseline: float | None = None
    checkpoint: Path | None = None

    @property
    def final(self) -> float | None:
        """The metric at the last evaluation."""
        return self.history[-1][self.metric] if self.history else None


def default_size(model: nn.Module, size: tuple[int, int, int] | None = None):
    """(channels, (D, H, W)) to train `model` at: the spec's static sizes; a dynamic (``?``)
    axis takes `size`'s value or the smallest allowed size >= 32 (H, W) or >= 1 (D)."""
    cfg = getattr(model, "input_cfg", None)
    if cfg is None:
        raise SpecValueError(
            "train needs a model compiled by blockspec (it reads the input size from the spec)",
            None,
            "pass a spec file or a model from bs.compile / bs.load",
        )
    out = []
    for i, want in enumerate(cfg.size):
        if want is not None:
            if size is not None and size[i] != want:
                raise SpecValueError(f"size {list(size)} does not match the spec's static size")
            out.append(want)
            continue
        step, minimum = cfg.step[i], max(1, cfg.minimum[i])
        n = size[i] if size is not None else max(minimum, 1 if i == 0 else 32)
        out.append(math.ceil(n / step) * step)
    return cfg.channels, tuple(out)


def _schedule(steps: int, warmup: int):
    """Linear warm-up over `warmup` steps, then a cosine decay to 10 % at `steps`."""

    def factor(i: int) -> float:
        if i < warmup:
            return (i + 1) / warmup
        t = min(1.0, (i - warmup) / max(1, steps - warmup))
        return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * t))

    return factor


def _build(model_or_spec: Any, seed: int, overrides: Mapping[str, Any] | None) -> nn.Module:
    if isinstance(model_or_spec, nn.Module):
        if overrides:
            raise SpecValueError("overrides apply to a spec, not to a built model")
        return model_or_spec
    from blockspec.api import compile as compile_spec

    source = Path(model_or_spec) if isinstance(model_or_spec, os.PathLike) else model_or_spec
    return compile_spec(source, seed=seed, overrides=overrides)


def _resume_path(resume: str | os.PathLike) -> Path:
    path = Path(resume)
    return path / "last.pt" if path.is_dir() else path


def _evaluate(model: nn.Module, task: str, xs: torch.Tensor, ys: torch.Tensor, chunk: int):
    """The metric over the held-out batch (in chunks of `chunk`), model in eval mode."""
    was = model.training
    model.eval()
    with torch.no_grad():
        out = torch.cat([model(xs[i : i + chunk]) for i in range(0, len(xs), chunk)])
    model.train(was)
    return T.metric(task, out, ys)


def train(
    model_or_spec: Any,
    task: str = "denoise",
    steps: int = 200,
    batch: int = 4,
    lr: float = 1e-3,
    out: str | os.PathLike | None = None,
    resume: str | os.PathLike | None = None,
    eval_every: int | None = None,
    seed: int = 0,
    *,
    save_every: int | None = None,
    until: int | None = None,
    weight_decay: float = 0.05,
    warmup: int | None = None,
    clip_grad: float | None = 1.0,
    eval_batch: int = 8,
    size: tuple[int, int, int] | None = None,
    noise: float = 0.1,
    overrides: Mapping[str, Any] | None = None,
    device: str | torch.device | None = None,
    progress: bool | None = None,
    log: bool = True,
) -> TrainResult:
    """Train a spec (a path or spec text, compiled with `seed` and `overrides`) or a compiled
    model on synthetic `task` data ("denoise", "segment" or "classify") up to step `steps`.

    AdamW on `param_groups` (`weight_decay`), `lr` with `warmup` linear steps (default
    min(50, steps // 10)) and a cosine decay to lr/10 at `steps`, gradients clipped to norm
    `clip_grad`. Every `eval_every` steps (default steps // 10) and at the end, the metric on a
    fixed held-out batch of `eval_batch` samples; with `out`, a checkpoint ``out/last.pt``
    every `save_every` steps (default `eval_every`) and at the end, and one JSON line per
    evaluation in ``out/metrics.jsonl``. `resume` (a checkpoint or a folder holding
    ``last.pt``) continues from its step with its weights, optimizer and scheduler state;
    `until` stops at that step (the schedule still spans `steps`), e.g. to split a run.

    Under torchrun (``WORLD_SIZE > 1``) each of the processes trains on its own `batch`
    samples (different data on every rank), gradients averaged by DDP; every rank evaluates the
    same batch; rank 0 prints and writes. `progress` (default: stderr is a terminal) draws a
    bar; `log` prints a line per evaluation on rank 0.
    """
    if task not in T.TASKS:
        raise SpecValueError(f"unknown task {task!r}", None, f"use one of {', '.join(T.TASKS)}")
    for name, v in (("steps", steps), ("batch", batch), ("eval_batch", eval_batch)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise SpecValueError(f"{name} must be a positive integer, got {v!r}")
    if not (lr > 0 and math.isfinite(lr)):
        raise SpecValueError(f"lr must be a positive number, got {lr!r}")
    eval_every = eval_every or max(1, steps // 10)
    save_every = save_every or eval_every
    stop = min(steps, until) if until is not None else steps
    info = D.setup(device)
    args = dict(locals())  # every argument, checked, and `info`
    # the loop reseeds torch's RNG every step; the caller's RNG state is restored after it
    devices = [info.device] if info.device.type == "cuda" else []
    try:
        with torch.random.fork_rng(devices=devices):
            return _run(**args)
    finally:
        D.teardown(info)


def _run(
    *,
    info: D.DistInfo,
    model_or_spec: Any,
    task: str,
    steps: int,
    stop: int,
    batch: int,
    lr: float,
    out: Any,
    resume: Any,
    eval_every: int,
    save_every: int,
    seed: int,
    weight_decay: float,
    warmup: int | None,
    clip_grad: float | None,
    eval_batch: int,
    size: Any,
    noise: float,
    overrides: Any,
    progress: bool | None,
    log: bool,
    **_: Any,
) -> TrainResult:
    model = _build(model_or_spec, seed, overrides)
    channels, size = default_size(model, size)
    start, state = 0, None
    if resume is not None:
        state = load_state(_resume_path(resume))
        if getattr(state.model, "spec", None) != getattr(model, "spec", None):
            raise CheckpointError(
                f"{resume} was trained from another spec than the one given",
                hint="resume with the spec (and --set overrides) the checkpoint was made with",
            )
        was = state.extra.get("task") if isinstance(state.extra, dict) else None
        if was is not None and was != task:
            raise CheckpointError(
                f"{resume} was trained on task {was}, not {task}",
                hint=f"resume with --task {was}, or start a new run without --resume",
            )
        model.load_state_dict(state.model.state_dict())
        start = state.step or 0
    out_dir = Path(out) if out is not None else None
    if out_dir is not None:
        if not isinstance(getattr(model, "spec", None), str):
            raise CheckpointError(
                "cannot write checkpoints: the model has no .spec",
                hint="train a spec, or a model built by bs.compile or bs.load",
            )
        if info.main:
            out_dir.mkdir(parents=True, exist_ok=True)
    model.to(info.device).train()

    with torch.no_grad():  # what the model outputs fixes the classes (and checks the task)
        model.eval()
        probe = torch.zeros(1, channels, *size, device=info.device)
        classes = T.check_output(task, model(probe), probe)
        model.train()
    data = Synthetic(task, channels, size, classes, noise, seed)
    xs, ys = (t.to(info.device) for t in data.eval_batch(eval_batch))
    baseline = psnr(xs, ys) if task == "denoise" else None

    net = D.wrap_ddp(model, info)
    opt = torch.optim.AdamW(param_groups(model, weight_decay), lr=lr)
    warm = warmup if warmup is not None else min(50, steps // 10)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, _schedule(steps, max(1, warm)))
    if state is not None:
        if state.optimizer_state is not None:
            opt.load_state_dict(state.optimizer_state)
        if state.scheduler_state is not None:
            sched.load_state_dict(state.scheduler_state)

    name, unit = T.METRICS[task]
    result = TrainResult(model, start, [], name, baseline)
    extra = {"task": task, "seed": seed, "batch": batch, "world": info.world, "steps": steps}
    bar = Progress(stop, start, enabled=progress if info.main else False)
    say = bar.write if (log and info.main) else (lambda _: None)
    if baseline is not None and start == 0:
        say(f"{task}: the noisy input has PSNR {baseline:.2f} dB")
    t0, loss_sum, loss_n = time.perf_counter(), 0.0, 0

    def checkpoint(step: int) -> None:
        if out_dir is not None and info.main:
            save_state(
                out_dir / "last.pt", model, optimizer=opt, scheduler=sched, step=step, extra=extra
            )
            result.checkpoint = out_dir / "last.pt"

    def evaluate(done: int, mean_loss: float | None) -> None:
        m = _evaluate(model, task, xs, ys, batch)
        rec = {"step": done, "loss": mean_loss, name: m, "seconds": time.perf_counter() - t0}
        result.history.append(rec)
        bar.update(done, **{name: f"{m:.4g}{unit}"})
        gain = f" ({m - baseline:+.2f} dB)" if baseline is not None else ""
        shown = f"{mean_loss:.4g}" if mean_loss is not None else "-"
        say(
            f"step {done}/{steps}  loss {shown}  {name} {m:.4g}{unit}{gain}  "
            f"{format_duration(rec['seconds'])}"
        )
        if out_dir is not None and info.main:
            with open(out_dir / "metrics.jsonl", "a", encoding="utf-8") as f:
                f.write(json.dumps(rec) + "\n")

    try:
        for step in range(start, stop):
            torch.manual_seed(mix_seed(seed, _DROPOUT_STREAM, info.rank, step))
            x, y = (t.to(info.device) for t in data.train_batch(step, batch, info.rank, info.world))
            loss = T.loss(task, net(x), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if clip_grad is not None:
                torch.nn.utils.clip_grad_norm_(model.parameters(), clip_grad)
            opt.step()
            sched.step()
            # the mean over the ranks: every rank sees the same value (and stops on the same
            # non-finite one instead of leaving the others waiting)
            value = _mean_across(float(loss.detach()), info)
            if not math.isfinite(value):
                raise FloatingPointError(
                    f"the loss is {value} at step {step + 1}; lower the learning rate (--lr)"
                )
            loss_sum, loss_n = loss_sum + value, loss_n + 1
            done = step + 1
            result.step = done
            bar.update(done, loss=f"{value:.4g}")
            if done % eval_every == 0 or done == stop:
                evaluate(done, loss_sum / loss_n)
                loss_sum, loss_n = 0.0, 0
            if done % save_every == 0 or done == stop:
                checkpoint(done)
    except KeyboardInterrupt:
        bar.close()
        if result.step > start:
            checkpoint(result.step)
            say(f"interrupted at step {result.step}; resume with --resume {result.checkpoint}")
        raise
    if not result.history:  # resumed at or past the last step: say where the model stands
        evaluate(result.step, None)
    bar.close()
    model.eval()
    return result


def _mean_across(value: float, info: D.DistInfo) -> float:
    """The mean of `value` over all processes (itself with one)."""
    if info.world <= 1:
        return value
    t = torch.tensor([value], dtype=torch.float64, device=info.device)
    dist.all_reduce(t)
    return float(t) / info.world
