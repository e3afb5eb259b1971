"""What a checkpoint may hold and the hashes that cover it (used by `blockspec.checkpoint`).

A checkpoint stores *plain data*: None, bool, int, float, str, list, tuple, dict with str or int
keys, and dense CPU tensors. `plain` turns a value into exactly those builtin types (or says
where it cannot), so the file loads with ``torch.load(weights_only=True)``, and `data_sha256`
hashes such a value independently of how it is pickled: the same value gives the same digest
before saving and after loading.
"""

from __future__ import annotations

import ctypes
import hashlib
from collections.abc import Mapping
from typing import Any

import torch

from .errors import CheckpointError

__all__ = ["weights_sha256", "data_sha256", "plain", "unsaveable"]

_MAX_DEPTH = 64  # nesting of plain data (an optimizer state dict is 4 deep)


def _raw(h: Any, t: torch.Tensor) -> None:
    """Feed dtype, shape, byte count and the C-contiguous bytes of `t` to the hash `h`."""
    t = t.detach().to("cpu").resolve_conj().resolve_neg().contiguous()
    nbytes = t.numel() * t.element_size()
    dtype = str(t.dtype).removeprefix("torch.")
    shape = ",".join(str(s) for s in t.shape)
    h.update(f"{dtype}\0{shape}\0{nbytes}\n".encode())
    if nbytes:
        h.update((ctypes.c_ubyte * nbytes).from_address(t.data_ptr()))


def weights_sha256(state_dict: Mapping[str, torch.Tensor]) -> str:
    """SHA-256 (hex) of a state dict, independent of how it is pickled.

    Hashed: the line ``blockspec-weights-v1``, then for each key in sorted order the header
    ``key NUL dtype NUL shape NUL nbytes LF`` (UTF-8; dtype like ``float32``; shape as comma
    separated sizes) followed by the tensor's raw bytes, C-contiguous, in this machine's byte
    order (little-endian on every platform torch supports).
    """
    h = hashlib.sha256(b"blockspec-weights-v1\n")
    for key in sorted(state_dict):
        t = state_dict[key]
        problem = _tensor_problem(t)
        if problem:
            raise CheckpointError(f"cannot hash {key!r}: {problem}")
        h.update(f"{key}\0".encode())
        _raw(h, t)
    return h.hexdigest()


def _tensor_problem(t: torch.Tensor) -> str | None:
    """Why `t` cannot be stored as plain bytes, or None."""
    if type(t) not in (torch.Tensor, torch.nn.Parameter):
        return f"a {type(t).__name__} (a tensor subclass)"
    if t.is_meta:
        return "a meta tensor (it has no data)"
    if t.layout != torch.strided:
        return f"a {str(t.layout).removeprefix('torch.')} tensor (only dense tensors are stored)"
    if t.is_quantized or t.is_nested:
        return "a quantized or nested tensor (only dense tensors are stored)"
    return None


def unsaveable(tensors: Mapping[str, torch.Tensor]) -> list[str]:
    """``"name (why)"`` for each tensor of `tensors` that a checkpoint cannot hold."""
    out = []
    for name, t in tensors.items():
        problem = _tensor_problem(t)
        if problem:
            out.append(f"{name} ({problem})")
    return out


def plain(obj: Any, where: str, _depth: int = 0, _path: frozenset = frozenset()) -> Any:
    """`obj` as exactly builtin plain data and dense CPU tensors; `CheckpointError` naming
    `where` (like ``extra['rng'][2]``) for anything else."""
    if _depth > _MAX_DEPTH:
        raise CheckpointError(f"cannot save {where}: nested more than {_MAX_DEPTH} deep")
    if obj is None or isinstance(obj, bool | str):
        return obj if not isinstance(obj, str) else str(obj)
    if isinstance(obj, int):
        return int(obj)
    if isinstance(obj, float):  # numpy.float64 too: it is a float
        return float(obj)
    if isinstance(obj, torch.Tensor):
        problem = _tensor_problem(obj)
        if problem:
            raise CheckpointError(f"cannot save {where}: it is {problem}")
        return obj.detach().to("cpu")
    if isinstance(obj, list | tuple | dict):
        if id(obj) in _path:
            raise CheckpointError(f"cannot save {where}: it contains itself")
        inner = _path | {id(obj)}
        if isinstance(obj, dict):
            out = {}
            for k, v in obj.items():
                if isinstance(k, bool) or not isinstance(k, str | int):
                    raise CheckpointError(
                        f"cannot save {where}: key {k!r} is a {type(k).__name__}",
                        hint="dict keys in a checkpoint are str or int",
                    )
                key = str(k) if isinstance(k, str) else int(k)
                out[key] = plain(v, f"{where}[{k!r}]", _depth + 1, inner)
            return out
        items = [plain(v, f"{where}[{i}]", _depth + 1, inner) for i, v in enumerate(obj)]
        return items if isinstance(obj, list) else tuple(items)
    raise CheckpointError(
        f"cannot save {where}: it is a {type(obj).__module__}.{type(obj).__qualname__}",
        hint="a checkpoint stores None, bool, int, float, str, list, tuple, dict (str or int "
        "keys) and tensors; convert it (numpy: torch.from_numpy(a) or a.item())",
    )


def _feed(h: Any, obj: Any, depth: int = 0) -> None:
    """Feed one plain value to the hash `h`, each kind with its own tag."""
    if depth > _MAX_DEPTH:
        raise ValueError("nested too deeply")
    if obj is None:
        h.update(b"N")
    elif obj is True or obj is False:
        h.update(b"T" if obj else b"F")
    elif type(obj) is int:
        h.update(b"i%d;" % obj)
    elif type(obj) is float:
        h.update(b"f" + obj.hex().encode() + b";")
    elif type(obj) is str:
        b = obj.encode("utf-8", "surrogatepass")
        h.update(b"s%d:" % len(b) + b)
    elif isinstance(obj, torch.Tensor):
        problem = _tensor_problem(obj)
        if problem:
            raise ValueError(f"holds {problem}")
        h.update(b"x")
        _raw(h, obj)
    elif type(obj) in (list, tuple):
        h.update((b"l" if type(obj) is list else b"t") + b"%d:" % len(obj))
        for v in obj:
            _feed(h, v, depth + 1)
    elif isinstance(obj, dict):  # OrderedDict too; order does not count
        keys = list(obj)
        if any(type(k) not in (int, str) for k in keys):
            raise ValueError("has a dict key that is neither a str nor an int")
        h.update(b"d%d:" % len(keys))
        for k in sorted(keys, key=lambda k: (type(k) is str, k)):
            _feed(h, k, depth + 1)
            _feed(h, obj[k], depth + 1)
    else:
        raise ValueError(f"holds a {type(obj).__name__}")


def data_sha256(obj: Any) -> str:
    """SHA-256 (hex) of plain data (see the module docstring); `ValueError` for other data.

    Hashed: the line ``blockspec-data-v1``, then the value, each part tagged by its kind
    (``N`` None, ``T``/``F`` bools, ``i``/``f`` numbers in decimal / `float.hex`, ``s``
    length-prefixed UTF-8, ``l``/``t`` lists and tuples with their length, ``d`` dicts with
    their keys sorted, ``x`` tensors as in `weights_sha256`).
    """
    h = hashlib.sha256(b"blockspec-data-v1\n")
    _feed(h, obj)
    return h.hexdigest()
