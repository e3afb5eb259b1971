"""The checkpoint file's fields and the checks on reading one (see `blockspec.checkpoint`).

Reading never runs pickled code (``torch.load(weights_only=True)``) and every failure is a
`CheckpointError` naming the step: reading, structure, a hash.
"""

from __future__ import annotations

import pickle
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from ._digest import data_sha256, weights_sha256
from .errors import CheckpointError

FORMAT = "blockspec-checkpoint"
FORMAT_VERSION = 2
_FIELDS_V1 = (
    "format",
    "format_version",
    "blockspec_version",
    "spec",
    "seed",
    "weights_sha256",
    "state_dict",
)
_TRAINING = ("optimizer_state", "scheduler_state", "step", "extra")
_FIELDS = (*_FIELDS_V1, "budgets", *_TRAINING, "sha256")
_SHOW = 5  # how many keys an error names before "and N more"


def payload_sha256(payload: Mapping[str, Any]) -> str:
    """`data_sha256` of every field but ``sha256`` (``state_dict`` through its own hash)."""
    return data_sha256({k: payload[k] for k in _FIELDS if k not in ("sha256", "state_dict")})


def _version() -> str:
    import blockspec

    return blockspec.__version__


def _first_line(exc: BaseException, limit: int = 200) -> str:
    """The first line of an exception's message, shortened: no torch traceback in our errors."""
    text = str(exc).strip()
    line = text.splitlines()[0] if text else type(exc).__name__
    return line if len(line) <= limit else line[: limit - 3] + "..."


def _names(keys: list[str]) -> str:
    shown = ", ".join(keys[:_SHOW])
    return shown + (f" and {len(keys) - _SHOW} more" if len(keys) > _SHOW else "")


def read_payload(path: Path) -> Any:
    """`torch.load(weights_only=True)` with every failure turned into a `CheckpointError`."""
    try:
        with open(path, "rb") as f:
            head = f.read(4)
    except FileNotFoundError:
        raise CheckpointError(f"no such checkpoint file: {path}") from None
    except OSError as exc:
        raise CheckpointError(f"cannot read {path}: {exc.strerror or exc}") from exc
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        if head != b"PK\x03\x04":
            msg = f"{path} is not a blockspec checkpoint (not a PyTorch zip file)"
        elif not zipfile.is_zipfile(path):
            msg = f"{path} is truncated or damaged: its zip archive is incomplete"
        elif isinstance(exc, pickle.UnpicklingError) and "weights_only" in str(exc):
            msg = (
                f"{path} is not a blockspec checkpoint: it holds Python objects other than "
                "tensors and plain data, which are not loaded (weights_only=True)"
            )
        else:
            msg = f"{path} is damaged and cannot be read"
            raise CheckpointError(msg, hint=f"torch.load said: {_first_line(exc)}") from exc
        raise CheckpointError(msg) from exc


def check_structure(obj: Any, path: Path) -> dict:
    """The payload dict, after checking each field's presence and type (format 1 files get the
    fields of format 2 filled with None)."""
    if not isinstance(obj, dict) or obj.get("format") != FORMAT:
        if isinstance(obj, dict):
            what = "a dict with keys " + _names([repr(k) for k in obj]) if obj else "an empty dict"
        else:
            what = f"a {type(obj).__name__}"
        raise CheckpointError(
            f"{path} is not a blockspec checkpoint: it is a torch file holding {what}",
            hint="blockspec checkpoints are written by bs.save",
        )
    version = obj.get("format_version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise CheckpointError(f"{path} is damaged: format_version is {version!r}")
    writer = obj.get("blockspec_version")
    if version > FORMAT_VERSION:
        raise CheckpointError(
            f"{path} has checkpoint format {version}, newer than this blockspec ({_version()}) "
            f"reads (format {FORMAT_VERSION}); it was written by blockspec {writer}",
            hint="upgrade blockspec to load it",
        )
    missing = [f for f in (_FIELDS_V1 if version == 1 else _FIELDS) if f not in obj]
    if missing:
        raise CheckpointError(f"{path} is damaged: missing field(s) {', '.join(missing)}")
    if version == 1:
        obj = {**obj, "budgets": None, "sha256": None, **dict.fromkeys(_TRAINING)}
    seed, step, budgets = obj["seed"], obj["step"], obj["budgets"]

    def not_int(v: Any) -> bool:
        return v is not None and (isinstance(v, bool) or not isinstance(v, int))

    bad = (
        "blockspec_version" if not isinstance(writer, str) else
        "spec" if not isinstance(obj["spec"], str) else
        "seed" if not_int(seed) else
        "step" if not_int(step) else
        "weights_sha256" if not isinstance(obj["weights_sha256"], str) else
        "sha256" if version > 1 and not isinstance(obj["sha256"], str) else
        "state_dict" if not isinstance(obj["state_dict"], dict) else
        "budgets" if version > 1 and not isinstance(budgets, dict) else
        next((f for f in ("optimizer_state", "scheduler_state")
              if not isinstance(obj[f], dict | None)), None)
    )  # fmt: skip
    if bad is not None:
        raise CheckpointError(f"{path} is damaged: field {bad} is a {type(obj[bad]).__name__}")
    for k, v in obj["state_dict"].items():
        if not isinstance(k, str) or not isinstance(v, torch.Tensor):
            raise CheckpointError(
                f"{path} is damaged: state_dict entry {k!r} is a {type(v).__name__}, not a tensor"
            )
    if budgets is not None:
        for k in ("max_params", "max_activation_bytes"):
            v = budgets.get(k)
            if isinstance(v, bool) or not isinstance(v, int | float) or not v >= 0:
                raise CheckpointError(f"{path} is damaged: budgets[{k!r}] is {v!r}")
    return obj


def verify(payload: dict, path: Path) -> None:
    """Check the weights hash, then (format 2) the hash of everything else."""
    digest = weights_sha256(payload["state_dict"])
    if digest != payload["weights_sha256"]:
        raise CheckpointError(
            f"{path}: weights hash mismatch: the weights were changed or damaged after saving "
            f"(stored sha256 {str(payload['weights_sha256'])[:16]}..., "
            f"the weights hash to {digest[:16]}...)",
            hint="restore the file from a good copy; it cannot be trusted",
        )
    if payload["sha256"] is None:  # format 1: only the weights are covered
        return
    try:
        digest = payload_sha256(payload)
    except ValueError as exc:
        raise CheckpointError(f"{path} is damaged: its training state {exc}") from exc
    if digest != payload["sha256"]:
        raise CheckpointError(
            f"{path}: checkpoint hash mismatch: the spec, seed, budgets, format fields or "
            "training state were changed or damaged after saving (the weights are intact)",
            hint="restore the file from a good copy; it cannot be trusted",
        )


def _shape(t: torch.Tensor) -> str:
    return "[" + ", ".join(str(s) for s in t.shape) + "]"


def _fit_problems(model_sd: Mapping[str, torch.Tensor], file_sd: Mapping[str, Any]) -> list[str]:
    """Missing, unexpected and mis-shaped keys of `file_sd` against `model_sd`, in words."""
    missing = sorted(set(model_sd) - set(file_sd))
    unexpected = sorted(set(file_sd) - set(model_sd))
    shaped = sorted(
        k for k in set(model_sd) & set(file_sd) if model_sd[k].shape != file_sd[k].shape
    )
    problems = []
    if missing:
        problems.append(f"{len(missing)} missing (in the spec, not in the file): {_names(missing)}")
    if unexpected:
        problems.append(
            f"{len(unexpected)} unexpected (in the file, not in the spec): {_names(unexpected)}"
        )
    if shaped:
        detail = [
            f"{k} {_shape(file_sd[k])} in the file, {_shape(model_sd[k])} in the spec"
            for k in shaped
        ]
        problems.append(f"{len(shaped)} with another shape: {_names(detail)}")
    return problems


def _unwrap(model: Any) -> Any:
    """The compiled module inside DDP (``.module``) or torch.compile (``._orig_mod``)."""
    for _ in range(8):
        inner = getattr(model, "_orig_mod", None)
        if inner is None and isinstance(model, torch.nn.parallel.DistributedDataParallel):
            inner = model.module
        if not isinstance(inner, torch.nn.Module):
            return model
        model = inner
    return model
