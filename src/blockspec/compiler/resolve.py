"""AST -> IR: lets, defaults, level/stage entries, per-cell overrides and repetitions resolved.

The result knows, for every cell, its code, mixer flag, channels, input size and every
parameter (windows and patches already sized for their level), and where each parameter was
set, so later passes can point at the text. Errors are collected, sorted, and raised together.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from ..errors import Span, SpecError, SpecSyntaxError, SpecValueError
from ..runtime.config import (
    PATCHED_FAMILIES,
    WINDOWED_FAMILIES,
    CellConfig,
    HeadConfig,
    ResampleConfig,
    StemConfig,
)
from . import ast as A
from . import ir
from .diagnostics import Collector, did_you_mean, divisors
from .values import (
    DYN,
    Symbol,
    Value,
    as_bool,
    as_float,
    as_int,
    as_int_list,
    as_name,
    as_size,
    as_string,
    evaluate,
    evaluate_lets,
)

__all__ = ["resolve", "CODES", "CELL_DEFAULTS", "MAX_CELLS", "MAX_REPEAT", "MAX_GROUP_DEPTH"]

MAX_CELLS = 4096
MAX_REPEAT = 1000
MAX_GROUP_DEPTH = 16

#: cell code -> (family, has_mixer)
CODES: dict[str, tuple[str, bool]] = {
    "L1": ("L", True), "L0": ("L", False), "G1": ("G", True), "G0": ("G", False),
    "T1": ("T", True), "T0": ("T", False), "F1": ("T", True), "F0": ("T", False),
    "L3": ("L3", True), "G3": ("G3", True), "V2": ("V2", True), "V3": ("V3", True),
    "S3": ("S3", True), "Sh": ("Sh", True), "C2": ("C2", True), "C3": ("C3", True),
}  # fmt: skip

_ATTN = {"L", "G", "T", "L3", "G3", "V2", "V3", "S3", "Sh"}
_WINDOWED = WINDOWED_FAMILIES
_PATCHED = PATCHED_FAMILIES
_LIN_ATTN = _WINDOWED  # attention = lin applies to every windowed family (not T)

NORMS = ("layer", "channel_layer", "batch2d", "instance2d", "batch3d", "instance3d")
ACTIVATIONS = ("elu", "relu", "leakyrelu", "prelu", "relu6", "selu", "celu", "gelu")


def _ints(n: int, axes: str) -> Callable[[Value, str], tuple[int, ...]]:
    return lambda v, k: as_int_list(v, k, n, 1, axes)


def _names(*options: str) -> Callable[[Value, str], str]:
    return lambda v, k: as_name(v, k, options)


def _prob(v: Value, k: str) -> float:
    return as_float(v, k, 0.0, 1.0, False, True)


@dataclass(frozen=True)
class _Key:
    convert: Callable[[Value, str], object]
    default: object
    applies: frozenset[str] | None = None  # families it applies to (None: all)
    block_level: bool = False


CELL_KEYS: dict[str, _Key] = {
    "window": _Key(_ints(3, "HWD"), (16, 16, 1), frozenset(_WINDOWED)),
    "patch": _Key(_ints(3, "HWD"), (2, 2, 1), frozenset(_PATCHED)),
    "window_sizing": _Key(
        _names("keep_window_size", "keep_num_window", "mixed"), "mixed", frozenset(_WINDOWED)
    ),
    "heads": _Key(lambda v, k: as_int(v, k, 1), 16, frozenset(_ATTN)),
    "attention": _Key(_names("conv", "lin"), "conv", frozenset(_LIN_ATTN)),
    "mixer": _Key(_names("conv", "lin"), "conv", frozenset(_WINDOWED)),  # T, C2, C3: conv
    "mixer_ratio": _Key(lambda v, k: as_float(v, k, 0.0, None, True, False), 4.0),
    "norm": _Key(_names(*NORMS), "instance2d"),
    "activation": _Key(_names(*ACTIVATIONS), "prelu"),
    "cosine": _Key(as_bool, True, frozenset(_ATTN)),
    "normalize_qk": _Key(as_bool, True, frozenset(_ATTN)),
    "rel_pos_bias": _Key(as_bool, True, frozenset(_WINDOWED)),
    "out_proj": _Key(as_bool, True, frozenset(_ATTN)),
    "att_dropout": _Key(_prob, 0.0, frozenset(_ATTN)),
    "dropout": _Key(_prob, 0.1),
    "layout": _Key(_names("sequential", "parallel"), "sequential"),
    "dense": _Key(as_bool, False, block_level=True),
    "causal": _Key(as_bool, False, frozenset({"T"})),
    "temporal_stride": _Key(_ints(2, "HW"), (1, 1), frozenset({"T"})),
    "checkpoint": _Key(as_bool, False, block_level=True),
}
CELL_DEFAULTS = {k: spec.default for k, spec in CELL_KEYS.items()}

_BACKBONE_KEYS = {
    "unet": ("channels", "levels", "blocks", "decoder", "bridge", "gate", "downsample",
             "upsample", "downsample_depth"),
    "hrnet": ("channels", "levels", "blocks", "fusion", "downsample", "upsample",
              "downsample_depth"),
    "soanet": ("channels", "stages", "downsample", "downsample_depth"),
}  # fmt: skip
_HEAD_KEYS = {"conv": ("out_channels",), "classify": ("classes",)}
_SECTION_KEYS = {
    "input": ("channels", "D", "H", "W"),
    "cell": tuple(CELL_KEYS),
    "stem": ("patch", "channels", "norm"),
}


# ----------------------------------------------------------------------------- entries
@dataclass
class _Entries:
    """The entries of one section (or level/stage entry), evaluated, with duplicates refused."""

    values: dict[str, Value] = field(default_factory=dict)
    key_spans: dict[str, Span] = field(default_factory=dict)
    subs: dict[int, tuple[A.Sub, _Entries]] = field(default_factory=dict)
    close: Span | None = None

    def get(self, key: str) -> Value | None:
        return self.values.get(key)


def _entries(
    items: tuple,
    allowed: tuple[str, ...],
    env: Mapping[str, Value],
    errs: Collector,
    where: str,
    close: Span,
    sub_kind: str | None = None,
) -> _Entries:
    out = _Entries(close=close)
    for item in items:
        if isinstance(item, A.Sub):
            if sub_kind is None or item.kind != sub_kind:
                want = f"'{sub_kind} N {{ ... }}'" if sub_kind else "no nested entries"
                errs.add(
                    SpecSyntaxError(
                        f"'{item.kind}' entries are not allowed in {where}",
                        item.span,
                        f"{where} takes {want}",
                    )
                )
                continue
            if item.index in out.subs:
                errs.add(
                    SpecValueError(
                        f"{item.kind} {item.index_text} is given twice",
                        item.index_span,
                        "merge the two entries into one",
                    )
                )
                continue
            sub_entries = _entries(
                item.items, tuple(CELL_KEYS), env, errs, f"a {item.kind} entry", item.close_span
            )
            out.subs[item.index] = (item, sub_entries)
            continue
        if item.key not in allowed:
            errs.add(
                SpecValueError(
                    f"unknown key '{item.key}' in {where}",
                    item.key_span,
                    did_you_mean(item.key, allowed),
                )
            )
            continue
        if item.key in out.values:
            first = out.key_spans[item.key]
            errs.add(
                SpecValueError(
                    f"duplicate key '{item.key}' in {where}",
                    item.key_span,
                    f"'{item.key}' is already set on line {first.line}",
                )
            )
            continue
        try:
            out.values[item.key] = evaluate(item.value, env)
            out.key_spans[item.key] = item.key_span
        except SpecError as e:
            errs.add(e)
    return out


def _convert(
    entries: _Entries,
    key: str,
    convert: Callable[[Value, str], object],
    errs: Collector,
    default: object = None,
    required: bool = False,
    where: str = "",
) -> object:
    val = entries.get(key)
    if val is None:
        if required:
            assert entries.close is not None
            errs.add(
                SpecValueError(
                    f"{where} is missing the key '{key}'",
                    entries.close,
                    f"add '{key} = ...' to {where}",
                )
            )
        return default
    if val.v is DYN and key not in ("D", "H", "W"):
        errs.add(
            SpecValueError("'?' is only allowed for D, H and W in the input section", val.span)
        )
        return default
    try:
        return convert(val, key)
    except SpecError as e:
        errs.add(e)
        return default


# ----------------------------------------------------------------------------- cell parameters
@dataclass(frozen=True)
class _Param:
    value: object
    origin: ir.Origin


def _cell_params(entries: _Entries, layer: str, errs: Collector) -> dict[str, _Param]:
    out: dict[str, _Param] = {}
    for key, val in entries.values.items():
        spec = CELL_KEYS.get(key)
        if spec is None:
            continue
        converted = _convert(entries, key, spec.convert, errs)
        if converted is None:
            continue
        out[key] = _Param(converted, ir.Origin(layer, val.span, val.let))
    _check_patch_divides(out, errs)
    return out


def _check_patch_divides(params: Mapping[str, _Param], errs: Collector) -> None:
    """The patch must divide the window when both are written in the same place."""
    if "window" in params and "patch" in params:
        w, p = params["window"].value, params["patch"].value
        for i, axis in enumerate("HWD"):
            if w[i] % p[i]:  # type: ignore[index]
                errs.add(
                    SpecValueError(
                        f"patch {p[i]} does not divide window {w[i]} along {axis}",  # type: ignore[index]
                        params["patch"].origin.span,
                        f"a patch along {axis} must divide {w[i]}: "  # type: ignore[index]
                        + divisors(w[i]),  # type: ignore[index]
                    )
                )
                break


def _sized(w: int, k: int, rule: str) -> int:
    if rule == "keep_window_size":
        return w
    if rule == "keep_num_window":
        return max(1, w // 2**k)
    return max(1, w // 2 ** (k // 2))


def size_window(
    window: tuple[int, int, int],
    patch: tuple[int, int, int],
    window_sized: bool,
    patch_sized: bool,
    rule: str,
    k: tuple[int, int, int],
    size: tuple[ir.Dim, ir.Dim, ir.Dim],
) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
    """Window and patch for a level: the sizing rule, then clamping to the map (per axis).

    `window`, `patch` and `k` are (H, W, D); `size` is (D, H, W).
    """
    w_out, p_out = list(window), list(patch)
    m = (size[1], size[2], size[0])
    for i in range(3):
        if isinstance(m[i], ir.Sym):
            continue  # dynamic axes: used as written
        if window_sized:
            w_out[i] = _sized(window[i], k[i], rule)
        if patch_sized:
            p_out[i] = _sized(patch[i], k[i], rule)
        mi = m[i]
        if window_sized and mi >= 1 and w_out[i] > mi:
            w_out[i] = mi
            if patch_sized:
                p_out[i] = max(d for d in range(1, min(p_out[i], mi) + 1) if mi % d == 0)
    return (w_out[0], w_out[1], w_out[2]), (p_out[0], p_out[1], p_out[2])


# ----------------------------------------------------------------------------- block strings
@dataclass(frozen=True)
class _BlockText:
    lit: A.StrLit
    cells: tuple[A.BCell, ...]  # expanded


def _count(items: tuple, depth: int = 0) -> int:
    """Expanded cell count, checking repetition counts and nesting (before expanding)."""
    total = 0
    for item in items:
        total += _count_item(item, depth)
    return total


def _count_item(item, depth: int) -> int:
    if isinstance(item, A.BCell):
        return 1
    if isinstance(item, A.BGroup):
        if depth + 1 > MAX_GROUP_DEPTH:
            raise SpecSyntaxError(
                f"groups nest deeper than {MAX_GROUP_DEPTH}", item.span, "flatten the block string"
            )
        return _count(item.items, depth + 1)
    if not 1 <= item.count <= MAX_REPEAT:
        raise SpecValueError(
            f"repetition count {item.count_text} is out of range",
            item.count_span,
            f"a cell or group repeats 1 to {MAX_REPEAT} times",
        )
    return item.count * _count_item(item.item, depth)


def _expand(items: tuple) -> list[A.BCell]:
    out: list[A.BCell] = []
    for item in items:
        if isinstance(item, A.BCell):
            out.append(item)
        elif isinstance(item, A.BGroup):
            out.extend(_expand(item.items))
        else:
            out.extend(_expand((item.item,)) * item.count)
    return out


def _check_group_depth(text: str, lit: A.StrLit) -> None:
    """Refuse deep nesting by scanning characters, before the parser builds a deep tree."""
    depth = 0
    for i, ch in enumerate(text):
        if ch == "(":
            depth += 1
            if depth > MAX_GROUP_DEPTH + 1:
                sp = lit.span
                raise SpecSyntaxError(
                    f"groups nest deeper than {MAX_GROUP_DEPTH}",
                    Span(sp.line, sp.column + 1 + i, 1, sp.file, sp.source),
                    "flatten the block string",
                )
        elif ch == ")":
            depth = max(0, depth - 1)


class _BlockParser:
    """Parses each block-string literal once, counting cells against the network limit."""

    def __init__(self) -> None:
        self.cache: dict[tuple, _BlockText] = {}
        self.total = 0

    def parse(self, lit: A.StrLit) -> _BlockText:
        key = (lit.value, lit.span.file, lit.span.line, lit.span.column)
        bt = self.cache.get(key)
        if bt is None:
            _check_group_depth(lit.value, lit)
            bs = A.parse_block_string(lit)
            n = _count(bs.items)  # checks counts and depth before expanding
            if n > MAX_CELLS:
                raise SpecValueError(
                    f"the block string expands to {n} cells",
                    lit.span,
                    f"a network has at most {MAX_CELLS} cells",
                )
            cells = _expand(bs.items)
            for c in cells:
                if c.code not in CODES:
                    raise SpecValueError(
                        f"unknown cell code '{c.code}'", c.span, did_you_mean(c.code, CODES)
                    )
            bt = _BlockText(lit, tuple(cells))
            self.cache[key] = bt
        return bt

    def use(self, bt: _BlockText, span: Span) -> None:
        self.total += len(bt.cells)
        if self.total > MAX_CELLS:
            raise SpecValueError(
                f"the network has more than {MAX_CELLS} cells",
                span,
                "use fewer or shorter blocks",
            )


def _override_params(
    cell: A.BCell, family: str, has_mixer: bool, errs: Collector
) -> dict[str, _Param]:
    out: dict[str, _Param] = {}
    for ov in cell.overrides:
        spec = CELL_KEYS.get(ov.key)
        if spec is None:
            errs.add(
                SpecValueError(
                    f"unknown cell key '{ov.key}'",
                    ov.key_span,
                    did_you_mean(ov.key, [k for k, s in CELL_KEYS.items() if not s.block_level]),
                )
            )
            continue
        if spec.block_level:
            errs.add(
                SpecValueError(
                    f"'{ov.key}' is a block-level key and cannot be set per cell",
                    ov.key_span,
                    f"set {ov.key} in cell {{}} or in a level/stage entry",
                )
            )
            continue
        if (spec.applies is not None and family not in spec.applies) or (
            ov.key in ("mixer", "mixer_ratio") and not has_mixer
        ):
            errs.add(
                SpecValueError(
                    f"'{ov.key}' has no effect on a {cell.code} cell",
                    ov.key_span,
                    "remove the override",
                )
            )
            continue
        if ov.key in out:
            errs.add(SpecValueError(f"duplicate override '{ov.key}'", ov.key_span))
            continue
        try:
            val = evaluate(ov.value, {})
            if isinstance(val.v, Symbol) and val.v in ("true", "false"):
                val = Value(val.v == "true", val.span)
            out[ov.key] = _Param(spec.convert(val, ov.key), ir.Origin("override", val.span))
        except SpecError as e:
            errs.add(e)
    _check_patch_divides(out, errs)
    return out


# ----------------------------------------------------------------------------- the builder
@dataclass
class _Ctx:
    errs: Collector
    defaults: dict[str, _Param]
    blocks: _BlockParser
    depth: bool  # downsample_depth
    subs: dict[int, tuple[A.Sub, dict[str, _Param]]]

    def block(
        self,
        path: str,
        lit: A.StrLit,
        c_in: int,
        c_out: int,
        size: tuple[ir.Dim, ir.Dim, ir.Dim],
        level: int,
        sub: int,
    ) -> ir.Block | None:
        """One block at `path`: cells from the block string, parameters resolved and sized."""
        try:
            bt = self.blocks.parse(lit)
            self.blocks.use(bt, lit.span)
        except SpecError as e:
            self.errs.add(e)
            return None
        level_params = self.subs.get(sub, (None, {}))[1]
        base = {k: _Param(v, ir.Origin("default")) for k, v in CELL_DEFAULTS.items()}
        base.update(self.defaults)
        base.update(level_params)
        cells: list[ir.Cell] = []
        for i, bc in enumerate(bt.cells):
            family, has_mixer = CODES[bc.code]
            params = dict(base)
            params.update(_override_params(bc, family, has_mixer, self.errs))
            k = (level, level, level if self.depth else 0)
            w, wo = params["window"].value, params["window"].origin
            p, po = params["patch"].value, params["patch"].origin
            window, patch = size_window(
                w,
                p,  # type: ignore[arg-type]
                wo.layer in ("default", "cell"),
                po.layer in ("default", "cell"),
                str(params["window_sizing"].value),
                k,
                size,
            )
            cin = c_in if i == 0 else c_out
            cfg = CellConfig(
                code=bc.code,
                family=family,
                has_mixer=has_mixer,
                c_in=cin,
                c_out=c_out,
                size=ir.runtime_size(size),
                window=window,
                patch=patch,
                heads=params["heads"].value,  # type: ignore[arg-type]
                attention=params["attention"].value if family in _LIN_ATTN else "conv",  # type: ignore[arg-type]
                mixer=params["mixer"].value if family not in ("T", "C2", "C3") else "conv",  # type: ignore[arg-type]
                mixer_ratio=params["mixer_ratio"].value,  # type: ignore[arg-type]
                norm=params["norm"].value,  # type: ignore[arg-type]
                activation=params["activation"].value,  # type: ignore[arg-type]
                cosine=params["cosine"].value,  # type: ignore[arg-type]
                normalize_qk=params["normalize_qk"].value,  # type: ignore[arg-type]
                rel_pos_bias=params["rel_pos_bias"].value if family != "T" else False,  # type: ignore[arg-type]
                out_proj=params["out_proj"].value,  # type: ignore[arg-type]
                att_dropout=params["att_dropout"].value,  # type: ignore[arg-type]
                dropout=params["dropout"].value,  # type: ignore[arg-type]
                layout=params["layout"].value,  # type: ignore[arg-type]
                causal=params["causal"].value if family == "T" else False,  # type: ignore[arg-type]
                temporal_stride=params["temporal_stride"].value,  # type: ignore[arg-type]
            )
            origins = tuple((key, prm.origin) for key, prm in params.items())
            cells.append(ir.Cell(f"{path}.cell{i}", cfg, size, level, bc.span, origins))
        return ir.Block(
            path,
            lit.value,
            tuple(cells),
            bool(base["dense"].value),
            bool(base["checkpoint"].value),
            size,
            lit.span,
        )


def _halve(size: tuple[ir.Dim, ir.Dim, ir.Dim], times: int, depth: bool):
    def h(a: ir.Dim, n: int) -> ir.Dim:
        if n == 0:
            return a
        return a / 2**n if isinstance(a, ir.Sym) else a // 2**n

    return (h(size[0], times if depth else 0), h(size[1], times), h(size[2], times))


def _channels(entries: _Entries, n: int, counts: list[int], errs: Collector) -> tuple[int, ...]:
    """Channels per level/stage: an int C doubles per downsampling; a list is as written."""
    val = entries.get("channels")
    if val is None:
        return tuple(32 * 2**c for c in counts)
    if isinstance(val.v, tuple):
        try:
            chans = as_int_list(val, "channels", len(val.v), 1)
        except SpecError as e:
            errs.add(e)
            return tuple(32 * 2**c for c in counts)
        if not chans:
            errs.add(
                SpecValueError(
                    "channels is an empty list",
                    val.span,
                    f"give one value per level/stage ({n}), or one int",
                )
            )
            return tuple(32 * 2**c for c in counts)
        if len(chans) != n:
            errs.add(
                SpecValueError(
                    f"channels lists {len(chans)} values for {n} levels/stages",
                    val.span,
                    f"give one value per level/stage ({n}), or one int",
                )
            )
            return tuple((chans + chans[-1:] * n)[:n])
        return chans
    try:
        c = as_int(val, "channels", 1)
    except SpecError as e:
        errs.add(e)
        c = 32
    return tuple(c * 2**k for k in counts)


def _block_list(
    entries: _Entries, key: str, n: int, errs: Collector, default: list[A.StrLit] | None
) -> list[A.StrLit] | None:
    val = entries.get(key)
    if val is None:
        if default is None:
            return None
        return (default + default[-1:] * n)[:n]
    if not isinstance(val.v, tuple) or not val.v:
        errs.add(
            SpecValueError(
                f"{key} must be a list of block strings", val.span, f'write {key} = ["T1L1G1", ...]'
            )
        )
        return None
    lits: list[A.StrLit] = []
    for item in val.v:
        try:
            lits.append(as_string(item, key))
        except SpecError as e:
            errs.add(e)
            return None
    if len(lits) > n:
        errs.add(
            SpecValueError(
                f"{key} lists {len(lits)} blocks for {n} levels",
                val.span,
                f"give at most {n} (a shorter list repeats its last)",
            )
        )
    return (lits + lits[-1:] * n)[:n]


def _one_block(entries: _Entries, key: str, errs: Collector) -> A.StrLit | None:
    val = entries.get(key)
    if val is None:
        return None
    try:
        return as_string(val, key)
    except SpecError as e:
        errs.add(e)
        return None


_EXAMPLE_SECTION = {
    "input": "input { channels = 1, D = 1, H = 64, W = 64 }",
    "backbone": "backbone unet { ... } (or hrnet, soanet)",
}
_DEFAULT_BLOCK = A.StrLit("T1L1G1", Span(1, 1, 8, "<default>", '"T1L1G1"'))


def _resample(
    path: str,
    direction: str,
    method: str,
    chans: tuple[int, ...],
    size_in,
    factor: int,
    depth: bool,
) -> ir.Resample:
    """One resampler: `len(chans) - 1` halvings down, or one upsampling by `factor`."""
    if direction == "down":
        size_out = _halve(size_in, len(chans) - 1, depth)
    else:
        d, h, w = size_in
        size_out = (d * factor if depth else d, h * factor, w * factor)
    cfg = ResampleConfig(direction, method, chans, factor, depth)
    return ir.Resample(path, cfg, size_in, size_out)


def _backbone(
    sec: A.Section, entries: _Entries, ctx: _Ctx, c_in: int, size, errs: Collector
) -> ir.UNet | ir.HRNet | ir.SOANet | None:
    kind = sec.name
    depth = bool(_convert(entries, "downsample_depth", as_bool, errs, False))
    ctx.depth = depth
    if kind == "soanet":
        return _soanet(entries, ctx, c_in, size, errs, depth)
    levels = _convert(entries, "levels", lambda v, k: as_int(v, k, 1), errs, 2)
    n = int(levels)  # type: ignore[arg-type]
    if n > 62:
        errs.add(
            SpecValueError(
                f"{n} levels are more than any input allows",
                entries.values["levels"].span,
                "use fewer levels",
            )
        )
        return None
    down_m = _convert(
        entries, "downsample", _names("interpolate", "stride", "merge"), errs, "interpolate"
    )
    up_m = _convert(entries, "upsample", _names("linear", "nearest"), errs, "linear")
    chans = _channels(entries, n, list(range(n)), errs)
    blocks = _block_list(entries, "blocks", n, errs, [_DEFAULT_BLOCK])
    if blocks is None:
        return None
    max_sub = n if kind == "unet" else n - 1
    for idx, (sub, _) in ctx.subs.items():
        if not 0 <= idx <= max_sub:
            errs.add(
                SpecValueError(
                    f"level {sub.index_text} does not exist",
                    sub.index_span,
                    f"levels count from 0 to {max_sub}"
                    + (" (level L is the bridge)" if kind == "unet" else ""),
                )
            )
    # a `levels` value that breaks a size rule is pointed at; the default is not in the text
    spans = (("levels", entries.values["levels"].span),) if "levels" in entries.values else ()
    plan = _Levels(c_in, size, depth, n, chans, blocks, str(down_m), str(up_m), spans)
    return (_unet if kind == "unet" else _hrnet)(entries, ctx, errs, plan)


@dataclass(frozen=True)
class _Levels:
    """What the U-Net and HR-Net builders share: input, sizes, per-level channels and blocks."""

    c_in: int
    size: tuple
    depth: bool
    n: int
    chans: tuple[int, ...]
    blocks: list[A.StrLit]
    down_m: str
    up_m: str
    spans: tuple


def _unet(entries: _Entries, ctx: _Ctx, errs: Collector, plan: _Levels) -> ir.UNet | None:
    """U-Net levels, bridge and decoder (SEMANTICS.md, U-Net), one loop over the levels."""
    c_in, size, depth, n, chans = plan.c_in, plan.size, plan.depth, plan.n, plan.chans
    blocks, down_m, up_m, spans = plan.blocks, plan.down_m, plan.up_m, plan.spans
    dec = _block_list(entries, "decoder", n, errs, blocks)
    bridge_lit = _one_block(entries, "bridge", errs) or blocks[-1]
    lv: list[ir.UNetLevel] = []
    encs, downs = [], []
    for l in range(n):
        s_l = _halve(size, l, depth)
        enc = ctx.block(
            f"level{l}.enc", blocks[l], c_in if l == 0 else chans[l - 1], chans[l], s_l, l, l
        )
        down = _resample(f"level{l}.down", "down", down_m, (chans[l], chans[l]), s_l, 2, depth)
        encs.append(enc)
        downs.append(down)
    bridge = ctx.block("bridge", bridge_lit, chans[-1], chans[-1], _halve(size, n, depth), n, n)
    ups, gates, decs = [None] * n, [None] * n, [None] * n
    gate = _convert(entries, "gate", as_bool, errs, True)
    for l in reversed(range(n)):
        s_l = _halve(size, l, depth)
        ups[l] = _resample(
            f"level{l}.up",
            "up",
            up_m,
            (chans[l], chans[l]),
            _halve(size, l + 1, depth),
            2,
            depth,
        )
        gates[l] = ir.Gate(f"level{l}.gate", chans[l], s_l) if gate else None
        decs[l] = ctx.block(
            f"level{l}.dec",
            dec[l] if dec else blocks[l],
            2 * chans[l],
            chans[l - 1] if l > 0 else chans[0],
            s_l,
            l,
            l,
        )
    if any(b is None for b in [*encs, bridge, *decs]):
        return None
    for l in range(n):
        lv.append(ir.UNetLevel(encs[l], downs[l], ups[l], gates[l], decs[l]))
    return ir.UNet(tuple(lv), bridge, chans, spans=spans)


def _hrnet(entries: _Entries, ctx: _Ctx, errs: Collector, plan: _Levels) -> ir.HRNet | None:
    """HR-Net blocks, resamplers and fusion (SEMANTICS.md, HR-Net), one loop over stages."""
    c_in, size, depth, n, chans = plan.c_in, plan.size, plan.depth, plan.n, plan.chans
    blocks, down_m, up_m, spans = plan.blocks, plan.down_m, plan.up_m, plan.spans
    fusion_lit = _one_block(entries, "fusion", errs)
    blks: list[tuple[tuple[int, int], ir.Block]] = []
    res: list[tuple[tuple[int, int, int], ir.Resample]] = []
    ok = True
    for s in range(n):
        for l in range(s + 1):
            s_l = _halve(size, l, depth)
            if s > 0:
                for lf in range(l):
                    res.append(
                        (
                            (l, s, lf),
                            _resample(
                                f"level{l}.stage{s}.from{lf}",
                                "down",
                                down_m,
                                tuple(chans[lf : l + 1]),
                                _halve(size, lf, depth),
                                2,
                                depth,
                            ),
                        )
                    )
            b = ctx.block(
                f"level{l}.stage{s}",
                blocks[l],
                c_in if (l, s) == (0, 0) else chans[l],
                chans[l],
                s_l,
                l,
                l,
            )
            ok &= b is not None
            blks.append(((l, s), b))  # type: ignore[arg-type]
    fus: list[tuple[tuple[int, int], ir.Resample]] = []
    outs: list[ir.Block] = []
    for l in range(n):
        s_l = _halve(size, l, depth)
        for lf in range(n):
            if lf < l:
                fus.append(
                    (
                        (l, lf),
                        _resample(
                            f"fusion.level{l}.from{lf}",
                            "down",
                            down_m,
                            tuple(chans[lf : l + 1]),
                            _halve(size, lf, depth),
                            2,
                            depth,
                        ),
                    )
                )
            elif lf > l:
                fus.append(
                    (
                        (l, lf),
                        _resample(
                            f"fusion.level{l}.from{lf}",
                            "up",
                            up_m,
                            (chans[lf], chans[l]),
                            _halve(size, lf, depth),
                            2 ** (lf - l),
                            depth,
                        ),
                    )
                )
        b = ctx.block(
            f"fusion.level{l}.out", fusion_lit or blocks[l], chans[l], chans[l], s_l, l, l
        )
        ok &= b is not None
        outs.append(b)  # type: ignore[arg-type]
    if not ok:
        return None
    return ir.HRNet(
        chans, tuple(blks), tuple(res), tuple(fus), tuple(outs), up_m, depth, size, spans=spans
    )


def _soanet(entries: _Entries, ctx: _Ctx, c_in: int, size, errs: Collector, depth: bool):
    lits_val = entries.get("stages")
    if lits_val is None:
        errs.add(
            SpecValueError(
                "backbone soanet is missing the key 'stages'",
                entries.close,
                'add stages = ["(S3Sh)*1", ...]',
            )
        )
        return None
    if not isinstance(lits_val.v, tuple) or not lits_val.v:
        errs.add(SpecValueError("stages must be a list of block strings", lits_val.span))
        return None
    n = len(lits_val.v)
    lits = _block_list(entries, "stages", n, errs, None)
    down_v = entries.get("downsample")
    method: str | None = "interpolate"
    if down_v is not None:
        if isinstance(down_v.v, bool):
            method = "interpolate" if down_v.v else None
        else:
            method = _convert(
                entries, "downsample", _names("interpolate", "stride", "merge"), errs, "interpolate"
            )  # type: ignore[assignment]
    counts = [s if method else 0 for s in range(n)]
    chans = _channels(entries, n, counts, errs)
    for idx, (sub, _) in ctx.subs.items():
        if not 0 <= idx < n:
            errs.add(
                SpecValueError(
                    f"stage {sub.index_text} does not exist",
                    sub.index_span,
                    f"stages count from 0 to {n - 1}",
                )
            )
    if lits is None:
        return None
    stages: list[ir.Block] = []
    downs: list[ir.Resample | None] = []
    prev = c_in
    ok = True
    for s in range(n):
        s_s = _halve(size, counts[s], depth)
        if s > 0 and method:
            downs.append(
                _resample(
                    f"stage{s}.down",
                    "down",
                    method,
                    (chans[s - 1], chans[s]),
                    _halve(size, counts[s - 1], depth),
                    2,
                    depth,
                )
            )
            prev = chans[s]
        else:
            downs.append(None)
        b = ctx.block(f"stage{s}", lits[s], prev, chans[s], s_s, counts[s], s)
        ok &= b is not None
        stages.append(b)  # type: ignore[arg-type]
        prev = chans[s]
    if not ok:
        return None
    spans = (("stages", lits_val.span),)
    return ir.SOANet(tuple(stages), tuple(downs), spans=spans)


def resolve(spec: A.Spec, overrides: Mapping[str, Value] | None = None) -> ir.Network:
    """Resolve a parsed spec into IR; raises the first of all errors found (sorted)."""
    errs = Collector()
    lets = [s for s in spec.statements if isinstance(s, A.Let)]
    env, let_errors = evaluate_lets(lets, overrides or {})
    for e in let_errors:
        errs.add(e)

    sections: dict[str, A.Section] = {}
    for st in spec.statements:
        if isinstance(st, A.Section):
            if st.kind in sections:
                errs.add(
                    SpecValueError(
                        f"duplicate section '{st.kind}'",
                        st.span,
                        f"'{st.kind}' is already given on line "
                        f"{sections[st.kind].span.line}; merge them",
                    )
                )
                continue
            sections[st.kind] = st
    for req in ("input", "backbone"):
        if req not in sections:
            errs.add(
                SpecValueError(
                    f"missing section '{req}'",
                    spec.end_span,
                    "add " + _EXAMPLE_SECTION[req],
                )
            )
    for sec in sections.values():
        if sec.kind in ("input", "cell", "stem") and sec.name is not None:
            errs.add(
                SpecSyntaxError(
                    f"section '{sec.kind}' takes no name",
                    sec.name_span or sec.span,
                    f"write {sec.kind} {{ ... }}",
                )
            )
        if sec.kind in ("backbone", "head") and sec.name is None:
            opts = "unet, hrnet, soanet" if sec.kind == "backbone" else "conv, classify"
            errs.add(
                SpecSyntaxError(
                    f"section '{sec.kind}' needs a kind",
                    sec.span,
                    f"write {sec.kind} NAME {{ ... }} with NAME one of {opts}",
                )
            )
    bb = sections.get("backbone")
    if bb is not None and bb.name is not None and bb.name not in _BACKBONE_KEYS:
        errs.add(
            SpecValueError(
                f"unknown backbone '{bb.name}'",
                bb.name_span or bb.span,
                did_you_mean(bb.name, _BACKBONE_KEYS),
            )
        )
        bb = None
    hd = sections.get("head")
    if hd is not None and hd.name is not None and hd.name not in _HEAD_KEYS:
        errs.add(
            SpecValueError(
                f"unknown head '{hd.name}'",
                hd.name_span or hd.span,
                did_you_mean(hd.name, _HEAD_KEYS),
            )
        )
        hd = None

    def sec_entries(sec: A.Section | None, allowed, sub_kind=None) -> _Entries | None:
        if sec is None:
            return None
        where = f"{sec.kind} {sec.name}" if sec.name else sec.kind
        return _entries(sec.items, allowed, env, errs, where, sec.close_span, sub_kind)

    # input
    inp_e = sec_entries(sections.get("input"), _SECTION_KEYS["input"])
    inp: ir.Input | None = None
    if inp_e is not None:
        ch = _convert(inp_e, "channels", lambda v, k: as_int(v, k, 1), errs, None, True, "input")
        if inp_e.get("channels") is not None and inp_e.values["channels"].v is DYN:
            errs.add(
                SpecValueError(
                    "input channels must be static",
                    inp_e.values["channels"].span,
                    "give an integer",
                )
            )
        dims = []
        for ax in "DHW":
            v = _convert(inp_e, ax, as_size, errs, 1, True, "input")
            dims.append(ir.Sym(ax) if v is None else v)
        if ch is not None:
            inp = ir.Input(
                int(ch),
                (dims[0], dims[1], dims[2]),  # type: ignore[arg-type]
                spans=tuple(inp_e.values[a].span if a in inp_e.values else None for a in "DHW"),  # type: ignore[arg-type]
                channels_span=inp_e.values["channels"].span,
            )
    # cell defaults
    cell_e = sec_entries(sections.get("cell"), _SECTION_KEYS["cell"])
    defaults = _cell_params(cell_e, "cell", errs) if cell_e else {}
    # stem
    stem_e = sec_entries(sections.get("stem"), _SECTION_KEYS["stem"])
    stem: ir.Stem | None = None
    c_after = inp.channels if inp else 1
    size_after = inp.size if inp else (1, 1, 1)
    if stem_e is not None:
        patch = _convert(stem_e, "patch", _ints(3, "HWD"), errs, None, True, "stem")
        sch = _convert(stem_e, "channels", lambda v, k: as_int(v, k, 1), errs, None, True, "stem")
        snorm = _convert(stem_e, "norm", _names(*NORMS, "none"), errs, "none")
        if patch is not None and sch is not None and inp is not None:
            ph, pw, pd = patch  # type: ignore[misc]
            d, h, w = inp.size

            def div(a, p):
                return a / p if isinstance(a, ir.Sym) else a // p

            size_after = (div(d, pd), div(h, ph), div(w, pw))
            cfg = StemConfig(
                inp.channels,
                int(sch),
                tuple(patch),  # type: ignore[arg-type]
                None if snorm == "none" else str(snorm),
                ir.runtime_size(size_after),
            )
            stem = ir.Stem("stem", cfg, inp.size, size_after, stem_e.values["patch"].span)
            c_after = int(sch)  # type: ignore[arg-type]
    # backbone
    backbone = None
    if bb is not None and bb.name is not None:
        sub_kind = "stage" if bb.name == "soanet" else "level"
        bb_e = sec_entries(bb, _BACKBONE_KEYS[bb.name], sub_kind)
        assert bb_e is not None
        subs = {i: (sub, _cell_params(e, "level", errs)) for i, (sub, e) in bb_e.subs.items()}
        ctx = _Ctx(errs, defaults, _BlockParser(), False, subs)
        if inp is not None:
            backbone = _backbone(bb, bb_e, ctx, c_after, size_after, errs)
    # head
    head = None
    hd_e = sec_entries(hd, _HEAD_KEYS[hd.name]) if hd is not None and hd.name else None
    if hd_e is not None and hd is not None:
        key = _HEAD_KEYS[hd.name][0]  # type: ignore[index]
        n_out = _convert(
            hd_e, key, lambda v, k: as_int(v, k, 1), errs, None, True, f"head {hd.name}"
        )
        if n_out is not None and backbone is not None:
            c_last, size_last = _backbone_output(backbone)
            head = ir.Head(
                "head",
                HeadConfig(str(hd.name), c_last, int(n_out)),  # type: ignore[arg-type]
                size_last,
                hd.span,
            )
    errs.check()
    assert inp is not None and backbone is not None
    return ir.Network(inp, stem, backbone, head, spec.file, spec.source)


def _backbone_output(bb) -> tuple[int, tuple]:
    """Channels and size of the tensor a head sees (the last element of a list output)."""
    if isinstance(bb, ir.UNet):
        return bb.levels[0].dec.c_out, bb.levels[0].dec.size
    if isinstance(bb, ir.HRNet):
        return sum(bb.channels), bb.aggregate_size
    return bb.stages[-1].c_out, bb.stages[-1].size
