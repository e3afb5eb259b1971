"""Near misses: a valid spec with exactly one defect and where the error must point."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from ...errors import ShapeError, SpecError, SpecSyntaxError, SpecValueError
from .tables import _divisors

_MARK = "\x00"  # where the error must point; removed from the final text


@dataclass(frozen=True)
class NearMiss:
    """A spec with exactly one defect: the error class and the 1-based line and column.

    Iterating gives ``(text, error, line, column)``; `kind` names the defect.
    """

    text: str
    error: type[SpecError]
    line: int
    column: int
    kind: str

    def __iter__(self):
        return iter((self.text, self.error, self.line, self.column))


def _locate(text: str) -> tuple[str, int, int]:
    """Remove the marker; return the text and the marker's line and column (1-based)."""
    i = text.index(_MARK)
    line = text.count("\n", 0, i) + 1
    column = i - (text.rfind("\n", 0, i) + 1) + 1
    return text.replace(_MARK, ""), line, column


NEAR_MISS_KINDS = (
    "window", "default_window", "heads", "heads_zero", "unknown_key", "duplicate_key",
    "unknown_code", "too_many_levels", "negative_dropout", "att_dropout_one", "causal_batch2d",
    "dynamic_G1", "int_div", "unknown_override", "unknown_norm", "stage_out_of_range",
    "block_level_override", "duplicate_section", "missing_input_channels", "syntax_double_eq",
    "override_not_applicable", "deep_window", "level_window", "empty_channels",
)  # fmt: skip


@dataclass
class _Miss:
    """A near miss being built: the valid base, then the defect written into it."""

    kind: str
    H: int
    C: int
    heads: int
    w: int
    p: int
    inp: dict[str, str]
    cell: dict[str, str]
    backbone: str
    n: int  # levels or stages
    blocks: list[str]
    lets: list[str] = field(default_factory=list)
    extra_bb: list[str] = field(default_factory=list)
    extra_sections: list[str] = field(default_factory=list)
    error: type[SpecError] = SpecValueError
    C_text: str | None = None  # the backbone's channels, when the defect writes them


def _draw_base(draw, kind: str) -> _Miss:
    """A valid spec (input, cell, backbone, maybe a head) that the defect will break."""
    H = W = draw(st.sampled_from((8, 16)))
    D = 1
    C = draw(st.sampled_from((4, 8)))
    heads = draw(st.sampled_from((1, 2)))
    w = draw(st.sampled_from((2, 4)))
    p = draw(st.sampled_from(_divisors(w)))
    codes = ["L1", "G1", "C2"]
    if kind == "causal_batch2d":
        D = draw(st.integers(2, 4))
        codes = ["T1", "L1", "C2"]
    elif kind == "dynamic_G1":
        codes = ["L1", "C2"]  # the marked G1 is the only size-biased cell
    inp = {"channels": "1", "D": str(D), "H": str(H), "W": str(W)}
    cell = {
        "window": f"[{w}, {w}, 1]",
        "patch": f"[{p}, {p}, 1]",
        "window_sizing": "keep_window_size",
        "heads": str(heads),
    }
    if draw(st.booleans()):
        cell["dropout"] = "0.1"
    backbone = draw(st.sampled_from(("soanet", "unet")))
    n = draw(st.integers(1, 2))
    blocks = [
        "".join(draw(st.lists(st.sampled_from(codes), min_size=1, max_size=3))) for _ in range(n)
    ]
    blocks[0] = ("T1" if kind == "causal_batch2d" else "L1") + blocks[0]
    m = _Miss(kind, H, C, heads, w, p, inp, cell, backbone, n, blocks)
    if draw(st.booleans()):
        m.extra_sections.append("head conv { out_channels = 1 }")
    return m


def _shape_defect(draw, m: _Miss) -> bool:
    """Write a defect that makes a `ShapeError`, if `m.kind` is one; say whether it was."""
    M, w, p = _MARK, m.w, m.p
    if m.kind == "window":
        bad = draw(st.sampled_from([x for x in (3, 5, 6, 7) if m.H % x]))
        m.cell["window"] = f"{M}[{bad}, {w}, 1]" if draw(st.booleans()) else f"{M}[{w}, {bad}, 1]"
        m.cell["patch"] = "[1, 1, 1]"
    elif m.kind == "deep_window":  # divides level 0 (12) but not level 1 (6)
        m.backbone = "unet"
        m.H = 12
        m.inp["H"] = "12"
        m.cell["window"] = f"{M}[4, {w}, 1]"
        m.blocks = ["L1" + b for b in m.blocks]  # level 1 has a windowed cell
        m.cell["patch"] = f"[1, {p}, 1]"
    elif m.kind == "level_window":  # a level entry's window is used as written
        m.backbone = "unet"
        lvl = draw(st.integers(0, m.n - 1))
        m.blocks = ["L1" + b for b in m.blocks]  # every level has a windowed cell
        bad = draw(st.sampled_from((3, 5, 6)))
        m.extra_bb.append(f"level {lvl} {{ window = {M}[{bad}, {bad}, 1], patch = [1, 1, 1] }}")
    elif m.kind == "default_window":
        for k in ("window", "patch", "window_sizing"):
            del m.cell[k]
        bad = draw(st.sampled_from((24, 40, 56)))  # not multiples of 16
        axis = draw(st.sampled_from(("H", "W")))
        m.inp[axis] = f"{M}{bad}"
        m.backbone, m.n = "soanet", 1
    elif m.kind == "heads":
        m.cell["heads"] = M + str(draw(st.sampled_from((3, 5, 7))))
    elif m.kind == "too_many_levels":
        m.backbone = "unet"
        k = m.H.bit_length() - 1  # H = 2^k: k levels leave a 1x1 bridge
        m.n = k + draw(st.integers(0, 2))
        m.blocks = ["C2"]
    elif m.kind == "dynamic_G1":
        m.inp["H"] = "?"
        m.blocks[0] = m.blocks[0] + M + "G1"
    else:
        return False
    m.error = ShapeError
    return True


def _value_defect(draw, m: _Miss) -> None:
    """Write a defect that makes a `SpecValueError` (or a syntax error) into `m`."""
    M, cell, blocks = _MARK, m.cell, m.blocks
    if m.kind == "heads_zero":
        cell["heads"] = M + "0"
    elif m.kind == "unknown_key":
        cell[M + draw(st.sampled_from(("colour", "head", "windows", "drop")))] = "1"
    elif m.kind == "duplicate_key":
        key = draw(st.sampled_from(sorted(cell)))
        cell[M + key] = cell[key]
    elif m.kind == "unknown_code":
        bad = draw(st.sampled_from(("X1", "L2", "Q3", "Tx")))
        blocks[0] = blocks[0] + M + bad
    elif m.kind == "negative_dropout":
        cell["dropout"] = M + draw(st.sampled_from(("-0.1", "-1", "-0.5")))
    elif m.kind == "att_dropout_one":
        cell["att_dropout"] = M + draw(st.sampled_from(("1.0", "1", "2.5")))
    elif m.kind == "causal_batch2d":
        cell["norm"] = M + draw(st.sampled_from(("batch2d", "batch3d", "instance3d")))
        cell["causal"] = "true"
    elif m.kind == "int_div":
        m.lets.append("let C = " + str(2 * m.C))
        m.C_text = M + "C / 2"
    elif m.kind == "unknown_override":
        key = draw(st.sampled_from(("colour", "head", "dense_", "wndow")))
        blocks[0] = blocks[0] + f"L1({M}{key}=2)"
    elif m.kind == "unknown_norm":
        cell["norm"] = M + draw(st.sampled_from(("batchnorm", "layernorm", "instance")))
    elif m.kind == "stage_out_of_range":
        m.extra_bb.append(
            f"{'stage' if m.backbone == 'soanet' else 'level'} {M}{m.n + 1} {{ heads = 1 }}"
        )
    elif m.kind == "block_level_override":
        key = draw(st.sampled_from(("dense", "checkpoint")))
        blocks[0] = blocks[0] + f"L1({M}{key}=true)"
    elif m.kind == "duplicate_section":
        m.extra_sections = [
            "head conv { out_channels = 1 }",
            f"{M}head conv {{ out_channels = 2 }}",
        ]
    elif m.kind == "missing_input_channels":
        del m.inp["channels"]
    elif m.kind == "syntax_double_eq":
        cell["heads"] = f"{M}= {m.heads}"
        m.error = SpecSyntaxError
    elif m.kind == "override_not_applicable":
        code, key, val = draw(
            st.sampled_from(
                (("C2", "heads", "1"), ("C2", "window", "[2,2,1]"), ("L1", "causal", "true"))
            )
        )
        blocks[0] = blocks[0] + f"{code}({M}{key}={val})"
    elif m.kind == "empty_channels":
        m.C_text = M + "[]"  # written with the backbone's channels
    else:  # pragma: no cover - guarded by near_miss_specs
        raise InvalidArgument(f"unknown near-miss kind {m.kind!r}")


def _write_miss(draw, m: _Miss) -> NearMiss:
    """The text, in a drawn section order with drawn separators, and the marked place."""
    M, kind = _MARK, m.kind
    if m.C_text is not None:
        C_text = m.C_text
    elif draw(st.booleans()):
        m.lets.append(f"let C = {m.C}")
        C_text = "C"
    else:
        C_text = str(m.C)
    blocks = "[" + ", ".join(f'"{b}"' for b in m.blocks) + "]"
    if m.backbone == "soanet":
        bb = [f"channels = {C_text}", f"stages = {blocks}"]
    else:
        bb = [
            f"channels = {C_text}",
            f"levels = {M if kind == 'too_many_levels' else ''}{m.n}",
            f"blocks = {blocks}",
        ]

    def render(head_text: str, items: list[str], close_mark: bool = False) -> str:
        items = list(draw(st.permutations(items)))
        if kind == "duplicate_key":  # the second occurrence is the error
            items.sort(key=lambda it: M in it)
        sep = draw(st.sampled_from((", ", "; ", "\n  ", ",\n  ")))
        close = (M if close_mark else "") + "}"
        if "\n" in sep:
            return f"{head_text} {{\n  " + sep.join(items) + "\n" + close
        return f"{head_text} {{ " + sep.join(items) + " " + close

    sections = [
        render(
            "input",
            [f"{k} = {v}" for k, v in m.inp.items()],
            close_mark=kind == "missing_input_channels",
        ),
        render("cell", [f"{k} = {v}" for k, v in m.cell.items()]),
        render(f"backbone {m.backbone}", bb + m.extra_bb),
    ]
    order = list(draw(st.permutations(range(len(sections)))))
    body = [sections[i] for i in order] + m.extra_sections
    comment = draw(st.sampled_from(("", "# a near miss\n", "\n")))
    text = comment + "\n".join(m.lets + body) + "\n"
    text, line, column = _locate(text)
    return NearMiss(text, m.error, line, column, kind)


@st.composite
def _near_miss(draw, kinds: Sequence[str]) -> NearMiss:
    kind = draw(st.sampled_from(tuple(kinds)))
    m = _draw_base(draw, kind)
    if not _shape_defect(draw, m):
        _value_defect(draw, m)
    return _write_miss(draw, m)


def near_miss_specs(*, kinds: Sequence[str] | None = None) -> st.SearchStrategy[NearMiss]:
    """A valid spec with exactly one defect, as a `NearMiss` (text, error, line, column).

    The expected place is computed from how the text was built, never from the compiler.
    `kinds` restricts the defects (see `NEAR_MISS_KINDS`).
    """
    chosen = tuple(NEAR_MISS_KINDS if kinds is None else kinds)
    bad = [k for k in chosen if k not in NEAR_MISS_KINDS]
    if bad or not chosen:
        raise InvalidArgument(f"kinds={list(chosen)!r}: choose from {', '.join(NEAR_MISS_KINDS)}")
    return _near_miss(chosen)
