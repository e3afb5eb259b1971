"""Pass: every placed block's cells, their parameters layered (language defaults <
`cell { }` < level/stage entry < per-cell override) and windows sized; the backbone is then
assembled from its skeleton."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from ..errors import SpecError, SpecValueError
from ..language import BACKBONE_KEYS, CELL_DEFAULTS, CELL_KEYS, CODES, KEEP, families_where
from ..language.schema import CellConfig
from . import ast as A
from . import ir
from .entries import convert
from .params import override_params
from .state import Param, Slot, Unit
from .windows import size_window, table_grid

__all__ = ["run", "build_block"]

_BASE = {k: Param(v, ir.Origin("default")) for k, v in CELL_DEFAULTS.items()}
#: key -> families whose config holds the key's inert value instead of the resolved one
_INERT = {
    k: (families_where(key.inert_for) if key.inert_for else
        frozenset(families_where("all") - families_where(key.applies)))
    for k, key in CELL_KEYS.items()
    if key.inert is not KEEP
}  # fmt: skip
_CONFIG_KEYS = tuple(f.name for f in dataclasses.fields(CellConfig) if f.name in CELL_KEYS)


def _config_value(key: str, family: str, params: Mapping[str, Param]) -> object:
    if key in _INERT and family in _INERT[key]:
        return CELL_KEYS[key].inert
    return params[key].value


def build_block(
    s: Slot,
    cells: tuple[A.BCell, ...],
    base: Mapping[str, Param],
    errs: list[SpecError],
    schedule: list[Param] | None = None,
) -> ir.Block:
    """The block of slot `s`: one `ir.Cell` per expanded cell of its block string; with a
    drop-path `schedule`, each cell takes the next rate of it."""
    out: list[ir.Cell] = []
    shared = None  # the origins of a cell without overrides: one tuple for the whole block
    for i, bc in enumerate(cells):
        family, has_mixer = CODES[bc.code]
        params = dict(base)
        own = override_params(bc, family, has_mixer, errs)
        params.update(own)
        if schedule is not None:
            if params["dropout"].origin.layer == "override":
                errs.append(_both(params["dropout"]))
            params["dropout"] = schedule.pop(0)
        w, wo = params["window"].value, params["window"].origin
        p, po = params["patch"].value, params["patch"].origin
        window, patch = size_window(
            w,  # type: ignore[arg-type]
            p,  # type: ignore[arg-type]
            wo.layer in ("default", "cell"),
            po.layer in ("default", "cell"),
            str(params["window_sizing"].value),
            s.k,
            s.size,
        )
        values = {k: _config_value(k, family, params) for k in _CONFIG_KEYS}
        values.update(window=window, patch=patch)
        table = table_grid(family, str(values["rel_pos_table"]), w, p)  # type: ignore[arg-type]
        if table:
            values.update(table_grid=table)
        cfg = CellConfig(
            code=bc.code,
            family=family,
            has_mixer=has_mixer,
            c_in=s.c_in if i == 0 else s.c_out,
            c_out=s.c_out,
            size=ir.runtime_size(s.size),
            **values,  # type: ignore[arg-type]
        )
        if own or shared is None:
            origins = tuple((key, prm.origin) for key, prm in params.items())
            if not own:
                shared = origins
        else:
            origins = shared
        out.append(ir.Cell(f"{s.path}.cell{i}", cfg, s.size, s.level, bc.span, origins))
    return ir.Block(
        s.path,
        s.lit.value,
        tuple(out),
        bool(base["dense"].value),
        bool(base["checkpoint"].value),
        s.size,
        s.lit.span,
    )


_CONTAINERS = (ir.UNet, ir.UNetLevel, ir.HRNet, ir.SOANet)


def _assemble(node, blocks: Mapping[str, ir.Block]):
    """The skeleton with every `Slot` replaced by its block."""
    if isinstance(node, Slot):
        return blocks[node.path]
    if isinstance(node, tuple):
        return tuple(_assemble(x, blocks) for x in node)
    if isinstance(node, _CONTAINERS):
        changes = {
            f.name: _assemble(getattr(node, f.name), blocks)
            for f in dataclasses.fields(node)
            if f.init
        }
        return dataclasses.replace(node, **changes)
    return node


def _both(p: Param) -> SpecError:
    return SpecValueError(
        "dropout is set here and drop_path_rate sets every cell's dropout",
        p.origin.span,
        "remove one: drop_path_rate = R rises linearly from 0 to R over the network's cells",
    )


def _schedule(unit: Unit, errs: list[SpecError]) -> list[Param] | None:
    """timm's stochastic-depth schedule: rate R * i / (N - 1) for cell i of N, in build order."""
    entries = unit.entries.get("backbone")
    sec = unit.sections.get("backbone")
    if entries is None or sec is None or sec.name is None:
        return None
    rate = convert(entries, "drop_path_rate", BACKBONE_KEYS[sec.name]["drop_path_rate"], errs)
    if rate is None:
        return None
    for params in (unit.defaults, *(p for _, p in unit.subs.values())):
        if "dropout" in params:
            errs.append(_both(params["dropout"]))
    n = sum(len(c) for c in unit.cells.values() if c is not None)
    origin = ir.Origin("backbone", entries.values["drop_path_rate"].span)
    return [Param(float(rate) * i / max(1, n - 1), origin) for i in range(n)]  # type: ignore[arg-type]


def run(unit: Unit) -> Unit:
    if unit.skeleton is None:
        return unit
    errs: list[SpecError] = []
    blocks: dict[str, ir.Block] = {}
    ok = True
    schedule = _schedule(unit, errs)
    for s in unit.slots:
        cells = unit.cells.get(s.path)
        if cells is None:
            ok = False
            continue
        base = dict(_BASE)
        base.update(unit.defaults)
        base.update(unit.subs.get(s.sub, (None, {}))[1])
        blocks[s.path] = build_block(s, cells, base, errs, schedule)
    backbone = _assemble(unit.skeleton, blocks) if ok else None
    return dataclasses.replace(unit, backbone=backbone).err(*errs)
