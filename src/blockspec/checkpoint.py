"""Checkpoints that carry their spec: `save`, `load` and `load_training` (DESIGN.md).

A checkpoint is one file written by `torch.save` (PyTorch's zip format) holding a dict:

=====================  ==============================================================
``format``             the string ``"blockspec-checkpoint"`` (what marks the file as ours)
``format_version``     int, `FORMAT_VERSION` (2) when written; a newer one is refused
``blockspec_version``  str, ``blockspec.__version__`` of the writer
``spec``               str, the canonical spec text (``model.spec``)
``seed``               int or None, the seed the model was compiled with
``budgets``            dict: ``max_params``, ``max_activation_bytes`` (numbers) the model was
                       compiled within; `load` raises its own budgets to these
``weights_sha256``     str, 64 hex digits: `weights_sha256` of ``state_dict``
``state_dict``         dict str -> Tensor, the model's ``state_dict()`` on the CPU
``optimizer_state``    None or the optimizer's ``state_dict()`` (plain data, CPU tensors)
``scheduler_state``    None or the LR scheduler's ``state_dict()``
``step``               None or int, the training step
``extra``              None or any plain data the caller passed (RNG states, metrics ...)
``sha256``             str: `data_sha256` of every other field, with ``state_dict`` counted
                       through ``weights_sha256``: the spec, seed, budgets, format fields and
                       training state are covered as well as the weights
=====================  ==============================================================

Plain data is None, bool, int, float, str, list, tuple, dict (str or int keys) and tensors, so
`load` reads with ``torch.load(weights_only=True)`` and no pickled code runs. Every failure while
loading is a `CheckpointError` that says which step went wrong: reading the file, its structure,
a hash, the stored spec, or fitting the weights to the spec.

Format 1 files (written before training state existed: no ``budgets``, training fields or
``sha256``) still load; only their weights are covered by a hash.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ._ckformat import (  # noqa: F401 - _FIELDS, _FIELDS_V1, _TRAINING: the field lists
    _FIELDS,
    _FIELDS_V1,
    _TRAINING,
    FORMAT,
    FORMAT_VERSION,
    _first_line,
    _fit_problems,
    _names,
    _unwrap,
    _version,
    check_structure,
    payload_sha256,
    read_payload,
    verify,
)
from ._digest import plain, unsaveable, weights_sha256
from ._io import atomic_write
from .compiler.budget import DEFAULT_MAX_ACTIVATION_BYTES, DEFAULT_MAX_PARAMS
from .errors import BudgetError, CheckpointError, SpecError

__all__ = [
    "save", "load", "load_training", "LoadReport", "TrainingCheckpoint", "weights_sha256",
    "FORMAT", "FORMAT_VERSION",
]  # fmt: skip


@dataclass(frozen=True)
class LoadReport:
    """What `load(path, spec=other)` did with each state-dict key (the four tuples are disjoint).

    `loaded`: in both, same shape, copied from the file; `new`: in the model only (kept as
    initialised from the seed); `unused`: in the file only; `mismatched`: in both with different
    shapes (kept as initialised). Keys are sorted.
    """

    loaded: tuple[str, ...]
    new: tuple[str, ...]
    unused: tuple[str, ...]
    mismatched: tuple[str, ...]

    def __str__(self) -> str:
        return (
            f"{len(self.loaded)} loaded, {len(self.new)} new, {len(self.unused)} unused, "
            f"{len(self.mismatched)} mismatched"
        )


@dataclass(frozen=True)
class TrainingCheckpoint:
    """What `load_training` returns: the model (train mode) and the training state saved with
    it; each field is None where `save` was not given it (and for format 1 files).

    Restore with ``optimizer.load_state_dict(ck.optimizer_state)`` (it moves the state to the
    parameters' devices) and ``scheduler.load_state_dict(ck.scheduler_state)``.
    """

    model: torch.nn.Module
    optimizer_state: dict | None
    scheduler_state: dict | None
    step: int | None
    extra: Any


def _check_describes(model: torch.nn.Module, spec: str) -> Any:
    """Refuse to save a model whose `.spec` would rebuild another network; its IR."""
    from .api import compile as compile_spec
    from .api import parse

    try:
        net = parse(spec)
    except SpecError as exc:
        raise CheckpointError(f"cannot save: model.spec does not parse:\n{exc}") from exc
    own = getattr(model, "ir", None)
    if own is not None and net != own:
        raise CheckpointError(
            "cannot save: model.spec describes another network than model.ir",
            hint="a model compiled with overrides keeps the spec text without them; write the "
            "overridden values into the spec (or its lets) and compile that text",
        )
    try:  # shapes only: build on the meta device (no memory, no init work)
        with torch.device("meta"):
            skeleton = compile_spec(net, seed=None, max_params=float("inf"),
                                    max_activation_bytes=float("inf"))  # fmt: skip
    except SpecError:  # pragma: no cover - a validated IR lowers
        raise
    except Exception:  # pragma: no cover - a runtime that cannot build on meta: skip the check
        return net
    problems = _fit_problems(skeleton.state_dict(), model.state_dict())
    if problems:
        raise CheckpointError(
            "cannot save: the model's weights do not fit model.spec: " + "; ".join(problems)
        )
    return net


def _budgets(model: torch.nn.Module, net: Any) -> dict[str, float]:
    """The budgets to record: ``model.budgets`` when the compiler set them, else what the
    network needs (the figures `bs.compile` checked against its budgets)."""
    given = getattr(model, "budgets", None)
    if isinstance(given, Mapping):
        try:
            return {k: float(given[k]) for k in ("max_params", "max_activation_bytes")}
        except (KeyError, TypeError, ValueError):
            pass
    from .compiler.infer import infer

    rows = infer(net)
    return {
        "max_params": float(sum(r.stats.params for r in rows)),
        "max_activation_bytes": float(sum(r.stats.memory for r in rows)),
    }


def _state_of(obj: Any, what: str) -> Any:
    """An optimizer's or scheduler's state dict (or the dict itself), as plain data."""
    if obj is None:
        return None
    state = obj.state_dict() if callable(getattr(obj, "state_dict", None)) else obj
    if not isinstance(state, Mapping):
        raise CheckpointError(
            f"cannot save: {what} must be an object with .state_dict() or a dict, "
            f"not a {type(obj).__name__}"
        )
    return plain(dict(state), what)


def save(
    model: torch.nn.Module,
    path: str | os.PathLike,
    *,
    optimizer: Any = None,
    scheduler: Any = None,
    step: int | None = None,
    extra: Any = None,
    force: bool = False,
) -> None:
    """Write `model` (compiled by `bs.compile` or `bs.load`) with its spec and seed to `path`.

    For resuming training, `optimizer` and `scheduler` (objects with ``state_dict()``, or their
    state dicts), `step` (int) and `extra` (plain data: numbers, strings, lists, dicts, tensors,
    e.g. RNG states) are stored too and covered by the same hash; `load_training` returns them.
    A DDP or torch.compile wrapper is unwrapped. The file is written by `atomic_write`: to a
    temporary file in the same folder, flushed to disk and renamed over `path`, so `path` is
    either the old file or the complete new one; a symlink is written through, the file's mode
    and owner are kept, and a non-regular target is refused, like a read-only or hard-linked
    one unless `force`. Raises `CheckpointError` for a model without `.spec`, a spec that does
    not describe the model, tensors or values that cannot be stored, or a failed write.
    """
    model = _unwrap(model)
    spec = getattr(model, "spec", None)
    if not isinstance(model, torch.nn.Module) or not isinstance(spec, str) or not spec:
        raise CheckpointError(
            "cannot save: the model has no .spec (the canonical spec text)",
            hint="save models built by bs.compile or bs.load; they carry their spec",
        )
    seed = getattr(model, "seed", None)
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise CheckpointError(f"cannot save: model.seed must be an int or None, not {seed!r}")
    if step is not None and (isinstance(step, bool) or not isinstance(step, int)):
        raise CheckpointError(f"cannot save: step must be an int or None, not {step!r}")
    sd = model.state_dict()
    bad = unsaveable(sd)
    if bad:
        raise CheckpointError(
            f"cannot save: {len(bad)} tensor(s) of the model cannot be stored: {_names(bad)}",
            hint="materialise meta tensors (load real weights first) and make sparse ones "
            "dense (.to_dense())",
        )
    net = _check_describes(model, spec)
    state = {k: v.detach().to("cpu") for k, v in sd.items()}
    payload: dict[str, Any] = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "blockspec_version": _version(),
        "spec": spec,
        "seed": seed,
        "budgets": _budgets(model, net),
        "weights_sha256": weights_sha256(state),
        "state_dict": state,
        "optimizer_state": _state_of(optimizer, "optimizer"),
        "scheduler_state": _state_of(scheduler, "scheduler"),
        "step": step,
        "extra": plain(extra, "extra"),
    }
    payload["sha256"] = payload_sha256(payload)
    atomic_write(path, lambda f: torch.save(payload, f), force=force, error=CheckpointError)


def _budget_args(payload: dict, max_params: float | None, max_bytes: float | None) -> dict:
    """Budgets for compiling the stored spec: the caller's, else the recorded ones (at least
    the defaults)."""
    recorded = payload["budgets"] or {}
    defaults = {
        "max_params": DEFAULT_MAX_PARAMS,
        "max_activation_bytes": DEFAULT_MAX_ACTIVATION_BYTES,
    }
    given = {"max_params": max_params, "max_activation_bytes": max_bytes}
    return {
        k: given[k] if given[k] is not None else max(defaults[k], recorded.get(k, 0))
        for k in defaults
    }


def _open(path: str | os.PathLike) -> tuple[Path, dict]:
    path = Path(path)
    payload = check_structure(read_payload(path), path)
    verify(payload, path)
    return path, payload


def _stored_model(
    path: Path, payload: dict, max_params: float | None, max_bytes: float | None
) -> torch.nn.Module:
    """The stored spec compiled with the stored seed, the stored weights loaded strictly."""
    from .api import compile as compile_spec
    from .compiler.lower import uninitialised_parameters

    budgets = _budget_args(payload, max_params, max_bytes)
    try:  # every parameter is replaced below: skip initialising them (ViT-B/16: 86M values)
        with uninitialised_parameters():
            model = compile_spec(payload["spec"], seed=payload["seed"], **budgets)
    except BudgetError as exc:
        raise CheckpointError(
            f"{path}: the stored spec is over the budget:\n{exc}",
            hint="pass larger max_params / max_activation_bytes to bs.load",
        ) from exc
    except SpecError as exc:
        raise CheckpointError(
            f"{path}: the stored spec no longer parses with blockspec {_version()} "
            f"(the file was written by blockspec {payload['blockspec_version']}):\n{exc}",
            hint="fix the spec and load the weights with bs.load(path, spec=fixed_spec)",
        ) from exc
    state = payload["state_dict"]
    problems = _fit_problems(model.state_dict(), state)
    if problems:
        raise CheckpointError(
            f"{path}: the stored weights do not fit the stored spec: " + "; ".join(problems)
        )
    _assign(model, state, path)
    return model


def _assign(model: torch.nn.Module, state: Mapping[str, torch.Tensor], path: Path) -> None:
    """Load `state` (every key of the model, checked) by taking its tensors instead of copying
    them; one whose dtype, strides or storage differ from the model's own is copied into a
    tensor laid out like the model's, so the result equals ``load_state_dict`` bit for bit."""
    own = model.state_dict()
    fitted = {}
    for k, t in state.items():
        o = own[k]
        alone = t.storage_offset() == 0 and t.untyped_storage().nbytes() == t.nbytes
        if t.dtype != o.dtype or t.stride() != o.stride() or not alone or t.device != o.device:
            t = torch.empty_like(o).copy_(t)
        fitted[k] = t
    try:
        model.load_state_dict(fitted, strict=True, assign=True)
    except RuntimeError as exc:  # pragma: no cover - keys and shapes were checked before
        raise CheckpointError(
            f"{path}: the weights do not load into the model: {_first_line(exc)}"
        ) from exc


def load(
    path: str | os.PathLike,
    spec: str | os.PathLike | None = None,
    map_location: str | torch.device = "cpu",
    *,
    max_params: float | None = None,
    max_activation_bytes: float | None = None,
) -> torch.nn.Module:
    """Load a checkpoint written by `save`; returns the model in eval mode on `map_location`.

    The file is read with ``weights_only=True``, its hashes are verified, the stored spec is
    re-parsed and compiled with the stored seed, and the weights are loaded strictly.

    With `spec` (spec text or a path), that spec is compiled instead (stored seed) and only the
    weights that fit (same key and shape) are loaded; `model.load_report` (a `LoadReport`) says
    which. An error in `spec` itself is raised as the `SpecError` it is. Every other failure is a
    `CheckpointError`. `max_params` and `max_activation_bytes` are the budgets of `bs.compile`;
    by default the budgets recorded in the file (never below `bs.compile`'s defaults).
    """
    from .api import compile as compile_spec

    path, payload = _open(path)
    if spec is None:
        return (
            _stored_model(path, payload, max_params, max_activation_bytes).to(map_location).eval()
        )
    state: dict[str, torch.Tensor] = payload["state_dict"]
    budgets = _budget_args(payload, max_params, max_activation_bytes)
    model = compile_spec(spec, seed=payload["seed"], **budgets)
    own = model.state_dict()
    both = set(own) & set(state)
    fits = sorted(k for k in both if own[k].shape == state[k].shape)
    model.load_report = LoadReport(
        loaded=tuple(fits),
        new=tuple(sorted(set(own) - set(state))),
        unused=tuple(sorted(set(state) - set(own))),
        mismatched=tuple(sorted(both - set(fits))),
    )
    _load_state(model, {k: state[k] for k in fits}, strict=False, path=path)
    return model.to(map_location).eval()


def load_training(
    path: str | os.PathLike,
    map_location: str | torch.device | None = None,
    *,
    max_params: float | None = None,
    max_activation_bytes: float | None = None,
) -> TrainingCheckpoint:
    """Load a checkpoint for resuming training: the model (train mode, on `map_location`, the
    CPU by default) with the optimizer and scheduler state, step and extra given to `save`.

    The same checks as `load` (hashes over everything, the stored spec and weights); the
    training state is returned on the CPU as saved.
    """
    path, payload = _open(path)
    model = _stored_model(path, payload, max_params, max_activation_bytes)
    model = model.to(map_location or "cpu").train()
    return TrainingCheckpoint(
        model=model,
        optimizer_state=payload["optimizer_state"],
        scheduler_state=payload["scheduler_state"],
        step=payload["step"],
        extra=payload["extra"],
    )


def _load_state(
    model: torch.nn.Module, state: Mapping[str, torch.Tensor], strict: bool, path: Path
) -> None:
    try:
        model.load_state_dict(state, strict=strict)
    except RuntimeError as exc:  # pragma: no cover - keys and shapes were checked before
        raise CheckpointError(
            f"{path}: the weights do not load into the model: {_first_line(exc)}"
        ) from exc


_payload_sha256 = payload_sha256  # the sha256 field's function, as the tests re-sign files
