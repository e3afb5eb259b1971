"""What a golden record holds for one spec text, computed through the public API only.

A record is plain JSON data: the canonical text, the IR as a generic tree of dataclass fields,
the summary rows, the `graph` DOT text, the `state_dict` keys and shapes and the SHA-256 of
the weights at seed 0; for a text the compiler refuses, the rendered errors instead. The
redesign of the compiler must leave every record of `goldens.json` unchanged.
"""

from __future__ import annotations

import dataclasses
import hashlib
from typing import Any

import blockspec as bs
from blockspec.errors import SpecError
from blockspec.graph import to_dot

#: specs whose weights are hashed; larger ones record everything but the weights
MAX_HASHED_PARAMS = 3_000_000


def ir_tree(obj: Any) -> Any:
    """Any IR value as JSON data: dataclasses by class name and compared fields only."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        out: dict[str, Any] = {"@": type(obj).__name__}
        for f in dataclasses.fields(obj):
            if f.compare:
                out[f.name] = ir_tree(getattr(obj, f.name))
        return out
    if isinstance(obj, tuple | list):
        return [ir_tree(x) for x in obj]
    if isinstance(obj, dict):
        return {str(k): ir_tree(v) for k, v in obj.items()}
    if isinstance(obj, bool | int | str) or obj is None:
        return obj
    if isinstance(obj, float):
        return repr(obj)
    return str(obj)


def weights_digest(model) -> str:
    """SHA-256 over every state_dict entry's name, dtype, shape and bytes, in order."""
    h = hashlib.sha256()
    for name, t in model.state_dict().items():
        t = t.detach().contiguous().cpu()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def record(text: str, hash_weights: bool = True) -> dict[str, Any]:
    """The golden record of one spec text (valid or not)."""
    try:
        net = bs.parse(text)
    except SpecError as err:
        return {"errors": [e.render() for e in err.errors], "kind": type(err).__name__}
    s = bs.summary(net)
    rec: dict[str, Any] = {
        "canonical": bs.format(text),
        "model_spec": net.text,
        "ir": ir_tree(net),
        "rows": [
            [
                r.path,
                r.kind,
                [str(a) for a in r.in_shape],
                [str(a) for a in r.out_shape],
                r.stats.params,
                r.stats.flops,
                r.stats.memory,
            ]
            for r in s.rows
        ],
        "table": s.table(),
        "json": s.to_dict(),
        "graph": to_dot(net, title="golden"),
    }
    if hash_weights and s.totals.params <= MAX_HASHED_PARAMS:
        model = bs.compile(net, seed=0)
        rec["state"] = [[k, list(v.shape)] for k, v in model.state_dict().items()]
        rec["weights"] = weights_digest(model)
    return rec
