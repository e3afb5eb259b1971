"""Checkpoints that carry their spec: `save` and `load` (DESIGN.md, Checkpoints).

A checkpoint is one file written by `torch.save` (PyTorch's zip format) holding a dict:

=====================  ==============================================================
``format``             the string ``"blockspec-checkpoint"`` (what marks the file as ours)
``format_version``     int, `FORMAT_VERSION` when written; a newer one is refused
``blockspec_version``  str, ``blockspec.__version__`` of the writer
``spec``               str, the canonical spec text (``model.spec``)
``seed``               int or None, the seed the model was compiled with
``weights_sha256``     str, 64 hex digits: `weights_sha256` of ``state_dict``
``state_dict``         dict str -> Tensor, the model's ``state_dict()`` on the CPU
=====================  ==============================================================

Only tensors and plain data are stored, so `load` reads with ``torch.load(weights_only=True)``
and no pickled code runs. Every failure while loading is a `CheckpointError` that says which
step went wrong: reading the file, its structure, the weights hash, the stored spec, or fitting
the weights to the spec.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import pickle
import secrets
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from .compiler.budget import DEFAULT_MAX_ACTIVATION_BYTES, DEFAULT_MAX_PARAMS
from .errors import BudgetError, CheckpointError, SpecError

__all__ = ["save", "load", "LoadReport", "weights_sha256", "FORMAT", "FORMAT_VERSION"]

FORMAT = "blockspec-checkpoint"
FORMAT_VERSION = 1
_FIELDS = (
    "format",
    "format_version",
    "blockspec_version",
    "spec",
    "seed",
    "weights_sha256",
    "state_dict",
)
_SHOW = 5  # how many keys an error names before "and N more"


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


def weights_sha256(state_dict: Mapping[str, torch.Tensor]) -> str:
    """SHA-256 (hex) of a state dict, independent of how it is pickled.

    Hashed: the line ``blockspec-weights-v1``, then for each key in sorted order the header
    ``key NUL dtype NUL shape NUL nbytes LF`` (UTF-8; dtype like ``float32``; shape as comma
    separated sizes) followed by the tensor's raw bytes, C-contiguous, in this machine's byte
    order (little-endian on every platform torch supports).
    """
    h = hashlib.sha256(b"blockspec-weights-v1\n")
    for key in sorted(state_dict):
        t = state_dict[key].detach().to("cpu").contiguous()
        if t.layout != torch.strided:
            raise CheckpointError(f"cannot hash {key!r}: {t.layout} tensors are not supported")
        nbytes = t.numel() * t.element_size()
        dtype = str(t.dtype).removeprefix("torch.")
        shape = ",".join(str(s) for s in t.shape)
        h.update(f"{key}\0{dtype}\0{shape}\0{nbytes}\n".encode())
        if nbytes:
            h.update((ctypes.c_ubyte * nbytes).from_address(t.data_ptr()))
    return h.hexdigest()


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


def _check_describes(model: torch.nn.Module, spec: str) -> None:
    """Refuse to save a model whose `.spec` would rebuild another network."""
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
        return
    problems = _fit_problems(skeleton.state_dict(), model.state_dict())
    if problems:
        raise CheckpointError(
            "cannot save: the model's weights do not fit model.spec: " + "; ".join(problems)
        )


def save(model: torch.nn.Module, path: str | os.PathLike) -> None:
    """Write `model` (compiled by `bs.compile` or `bs.load`) with its spec and seed to `path`.

    The file is written to a temporary file in the same folder, flushed to disk and renamed over
    `path`, so `path` is either the old file or the complete new one. Raises `CheckpointError`
    for a model without `.spec`, a spec that does not describe the model, or a failed write.
    """
    spec = getattr(model, "spec", None)
    if not isinstance(model, torch.nn.Module) or not isinstance(spec, str) or not spec:
        raise CheckpointError(
            "cannot save: the model has no .spec (the canonical spec text)",
            hint="save models built by bs.compile or bs.load; they carry their spec",
        )
    seed = getattr(model, "seed", None)
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise CheckpointError(f"cannot save: model.seed must be an int or None, not {seed!r}")
    _check_describes(model, spec)
    state = {k: v.detach().to("cpu") for k, v in model.state_dict().items()}
    payload = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "blockspec_version": _version(),
        "spec": spec,
        "seed": seed,
        "weights_sha256": weights_sha256(state),
        "state_dict": state,
    }
    _atomic_save(payload, Path(path))


def _atomic_save(payload: dict, path: Path) -> None:
    """`torch.save` to a temporary file beside `path`, fsync, then `os.replace`."""
    folder = path.parent
    while True:  # O_EXCL with mode 0o666: the umask applies, as for any new file
        tmp = folder / f".{path.name}.{secrets.token_hex(6)}.tmp"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
            break
        except FileExistsError:  # pragma: no cover - 48 random bits
            continue
        except OSError as exc:
            raise CheckpointError(f"cannot write {path}: {exc.strerror}") from exc
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(payload, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        if isinstance(exc, Exception):
            oserr = isinstance(exc, OSError) and exc.strerror
            reason = exc.strerror if oserr else _first_line(exc)
            raise CheckpointError(f"cannot write {path}: {reason}") from exc
        raise
    try:  # make the rename durable; not every platform can open a folder
        dfd = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover
        return
    try:
        os.fsync(dfd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(dfd)


def _read(path: Path) -> Any:
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


def _check_structure(obj: Any, path: Path) -> dict:
    """The payload dict, after checking each field's presence and type."""
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
    missing = [f for f in _FIELDS if f not in obj]
    if missing:
        raise CheckpointError(f"{path} is damaged: missing field(s) {', '.join(missing)}")
    seed = obj["seed"]
    bad = (
        "blockspec_version" if not isinstance(writer, str) else
        "spec" if not isinstance(obj["spec"], str) else
        "seed" if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)) else
        "weights_sha256" if not isinstance(obj["weights_sha256"], str) else
        "state_dict" if not isinstance(obj["state_dict"], dict) else
        None
    )  # fmt: skip
    if bad is not None:
        raise CheckpointError(f"{path} is damaged: field {bad} is a {type(obj[bad]).__name__}")
    for k, v in obj["state_dict"].items():
        if not isinstance(k, str) or not isinstance(v, torch.Tensor):
            raise CheckpointError(
                f"{path} is damaged: state_dict entry {k!r} is a {type(v).__name__}, not a tensor"
            )
    return obj


def load(
    path: str | os.PathLike,
    spec: str | os.PathLike | None = None,
    map_location: str | torch.device = "cpu",
    *,
    max_params: float = DEFAULT_MAX_PARAMS,
    max_activation_bytes: float = DEFAULT_MAX_ACTIVATION_BYTES,
) -> torch.nn.Module:
    """Load a checkpoint written by `save`; returns the model in eval mode on `map_location`.

    The file is read with ``weights_only=True``, its weights hash is verified, the stored spec
    is re-parsed and compiled with the stored seed, and the weights are loaded strictly.

    With `spec` (spec text or a path), that spec is compiled instead (stored seed) and only the
    weights that fit (same key and shape) are loaded; `model.load_report` (a `LoadReport`) says
    which. An error in `spec` itself is raised as the `SpecError` it is. Every other failure is a
    `CheckpointError`. `max_params` and `max_activation_bytes` are the budgets of `bs.compile`.
    """
    from .api import compile as compile_spec

    path = Path(path)
    payload = _check_structure(_read(path), path)
    state: dict[str, torch.Tensor] = payload["state_dict"]
    digest = weights_sha256(state)
    if digest != payload["weights_sha256"]:
        raise CheckpointError(
            f"{path}: weights hash mismatch: the weights were changed or damaged after saving "
            f"(stored sha256 {str(payload['weights_sha256'])[:16]}..., "
            f"the weights hash to {digest[:16]}...)",
            hint="restore the file from a good copy; it cannot be trusted",
        )
    budgets = {"max_params": max_params, "max_activation_bytes": max_activation_bytes}
    seed = payload["seed"]
    if spec is None:
        try:
            model = compile_spec(payload["spec"], seed=seed, **budgets)
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
        problems = _fit_problems(model.state_dict(), state)
        if problems:
            raise CheckpointError(
                f"{path}: the stored weights do not fit the stored spec: " + "; ".join(problems)
            )
        _load_state(model, state, strict=True, path=path)
    else:
        model = compile_spec(spec, seed=seed, **budgets)
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


def _load_state(
    model: torch.nn.Module, state: Mapping[str, torch.Tensor], strict: bool, path: Path
) -> None:
    try:
        model.load_state_dict(state, strict=strict)
    except RuntimeError as exc:  # pragma: no cover - keys and shapes were checked before
        raise CheckpointError(
            f"{path}: the weights do not load into the model: {_first_line(exc)}"
        ) from exc
