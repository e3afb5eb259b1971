"""The user reference (docs/language.md, docs/semantics.md) stays true to the compiler.

Fenced blocks in the two pages are checked by their info string:

- ```` ```bspec ````: a whole spec that must parse, validate and summarise (and compile and
  run when it is small). A first line ``# examples/NAME.bspec`` means the block is that
  example file and must build the same network; comment lines ``# parameters: N`` and
  ``# FLOPs: N`` are totals worked out by hand in the page, checked against the summary and
  (parameters) the compiled module.
- ```` ```bspec-error [ErrorClass] ````: a spec that must raise `SpecError` (of that class).
- ```` ```blockstrings ````: one quoted block string per line, compiled inside a small 2D+T
  network; a line whose comment starts with ``error`` must raise `SpecError`.

A last group of tests reads the tables the compiler itself uses (cell keys, codes, value
names, limits) and checks that the language page names every one, with the right defaults.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

import blockspec as bs
from blockspec.errors import SpecError
from blockspec.language import families_where

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
PAGES = ("language.md", "semantics.md")
LANGUAGE = DOCS / "language.md"

#: compile specs up to this many parameters, and run those up to this many FLOPs
COMPILE_PARAMS = 3_000_000
RUN_FLOPS = 2e8

#: the network a `blockstrings` line is compiled in (2D+T, so every family fits)
BLOCK_SPEC = """input {{ channels = 2, D = 4, H = 32, W = 32 }}
cell {{ window = [8, 8, 2], patch = [2, 2, 1], heads = 2 }}
backbone soanet {{ channels = 8, stages = ["{text}"] }}
"""


@dataclass(frozen=True)
class Fence:
    """One fenced code block: where it starts, its info string and its body."""

    page: str
    line: int
    info: str
    body: str

    @property
    def where(self) -> str:
        return f"{self.page}:{self.line}"


def fences(page: str) -> list[Fence]:
    """Every fenced block of a page, in order (``` fences, not nested)."""
    out: list[Fence] = []
    lines = (DOCS / page).read_text(encoding="utf-8").split("\n")
    i = 0
    while i < len(lines):
        m = re.match(r"^```(.*)$", lines[i])
        if m is None:
            i += 1
            continue
        start, info, body = i + 1, m.group(1).strip(), []
        i += 1
        while i < len(lines) and not lines[i].startswith("```"):
            body.append(lines[i])
            i += 1
        assert i < len(lines), f"{page}:{start}: unclosed code fence"
        out.append(Fence(page, start, info, "\n".join(body) + "\n"))
        i += 1
    return out


ALL = [f for page in PAGES for f in fences(page)]
SPECS = [f for f in ALL if f.info == "bspec"]
ERRORS = [f for f in ALL if f.info.split(" ")[0] == "bspec-error"]
BLOCKS = [f for f in ALL if f.info == "blockstrings"]


def _ids(items: list[Fence]) -> list[str]:
    return [f.where for f in items]


def test_pages_have_marked_examples() -> None:
    """Guard the extraction itself: the pages are found and their examples are marked."""
    for page in PAGES:
        assert (DOCS / page).is_file(), page
    assert len(SPECS) >= 10
    assert len(ERRORS) >= 5
    assert BLOCKS
    known = {"bspec", "bspec-error", "blockstrings", "text", "python", ""}
    odd = [f.where for f in ALL if f.info.split(" ")[0] not in known]
    assert not odd, f"fences with an unknown info string (mark specs as bspec): {odd}"


def _markers(body: str) -> dict[str, int]:
    """``# parameters: 1,234`` / ``# FLOPs: 1,234`` comment lines of a spec example."""
    found = {}
    for m in re.finditer(r"^#\s*(parameters|FLOPs):\s*([\d,]+)\s*$", body, re.M):
        found[m.group(1)] = int(m.group(2).replace(",", ""))
    return found


def _static(net) -> bool:
    return all(isinstance(a, int) for a in net.input.size)


@pytest.mark.parametrize("fence", SPECS, ids=_ids(SPECS))
def test_spec_example_compiles(fence: Fence) -> None:
    net = bs.parse(fence.body)
    summary = bs.summary(net)
    assert str(summary)  # the table renders
    totals = summary.totals
    marks = _markers(fence.body)
    if "parameters" in marks:
        assert totals.params == marks["parameters"], f"{fence.where}: stated parameter count"
    if "FLOPs" in marks:
        assert totals.flops == marks["FLOPs"], f"{fence.where}: stated FLOP count"
    first = fence.body.split("\n", 1)[0]
    m = re.match(r"^# (examples/[\w.-]+\.bspec)\b", first)
    if m:
        path = ROOT / m.group(1)
        assert path.is_file(), f"{fence.where} quotes {m.group(1)}, which does not exist"
        assert bs.parse(path) == net, f"{fence.where} differs from {m.group(1)}"
    if totals.params > COMPILE_PARAMS:
        return
    model = bs.compile(net, seed=0)
    assert sum(p.numel() for p in model.parameters()) == totals.params
    if totals.flops > RUN_FLOPS or not _static(net):
        return
    d, h, w = net.input.size
    x = torch.randn(1, net.input.channels, d, h, w)
    model.eval()
    with torch.no_grad():
        y = model(x)
    outs = y if isinstance(y, list) else [y]
    assert all(torch.isfinite(t).all() for t in outs)
    if net.head is not None:
        assert tuple(y.shape[1:]) == tuple(summary.rows[-1].out_shape)


@pytest.mark.parametrize("fence", ERRORS, ids=_ids(ERRORS))
def test_error_example_is_refused(fence: Fence) -> None:
    parts = fence.info.split()
    want = getattr(bs, parts[1]) if len(parts) > 1 else SpecError
    assert issubclass(want, SpecError), f"{fence.where}: {parts[1]} is not a SpecError"
    with pytest.raises(SpecError) as info:
        bs.compile(bs.parse(fence.body), seed=0)
    assert isinstance(info.value, want), f"{fence.where}: {type(info.value).__name__}"
    assert info.value.span is not None, f"{fence.where}: the error names no place"


def _block_lines() -> list[tuple[str, str, bool]]:
    """(where, block string, expected to fail) for every line of every blockstrings fence."""
    out = []
    for fence in BLOCKS:
        for i, line in enumerate(fence.body.split("\n")):
            if not line.strip():
                continue
            where = f"{fence.page}:{fence.line + 1 + i}"
            m = re.match(r'^\s*"([^"]*)"\s*(?:#\s*(.*))?$', line)
            assert m, f"{where}: not a quoted block string: {line!r}"
            out.append((where, m.group(1), (m.group(2) or "").startswith("error")))
    return out


LINES = _block_lines()


@pytest.mark.parametrize(("where", "text", "bad"), LINES, ids=[w for w, _, _ in LINES])
def test_block_string_example(where: str, text: str, bad: bool) -> None:
    spec = BLOCK_SPEC.format(text=text)
    if bad:
        with pytest.raises(SpecError):
            bs.parse(spec)
        return
    net = bs.parse(spec)
    assert bs.summary(net).totals.params > 0
    model = bs.compile(net, seed=0)
    with torch.no_grad():
        y = model.eval()(torch.randn(1, 2, 4, 32, 32))
    assert tuple(y[-1].shape) == (1, 8, 4, 32, 32)


# ----------------------------------------------------------------------------- coverage
def _table(name: str):
    """A table of the language definition (`blockspec.language`)."""
    from blockspec import language

    if name == "SECTION_KEYS":
        return {"input": language.INPUT_KEYS, "cell": language.CELL_KEYS,
                "stem": language.STEM_KEYS}  # fmt: skip
    return getattr(language, name)


def _page() -> str:
    return LANGUAGE.read_text(encoding="utf-8")


def _missing(words) -> list[str]:
    text = _page()
    return sorted(w for w in set(words) if f"`{w}`" not in text and f" {w} " not in text)


def test_every_cell_key_is_documented() -> None:
    assert not _missing(_table("CELL_KEYS"))


def test_every_code_is_documented() -> None:
    text = _page()
    assert not [c for c in _table("CODES") if f"`{c}`" not in text]


def test_every_value_name_and_reserved_word_is_documented() -> None:
    values = set(_table("VALUE_NAMES")) | set(_table("NORMS")) | set(_table("ACTIVATIONS"))
    assert not [v for v in values if f"`{v}`" not in _page()]
    assert not _missing(_table("RESERVED"))


def test_every_section_backbone_and_head_key_is_documented() -> None:
    keys: set[str] = set()
    for table in ("SECTION_KEYS", "BACKBONE_KEYS", "HEAD_KEYS"):
        for name, names in _table(table).items():
            keys.add(name)
            keys.update(names)
    assert not [k for k in keys if f"`{k}`" not in _page()]


def _cell_rows() -> dict[str, list[str]]:
    """The rows of language.md's cell-key table: key -> its cells (backticks kept)."""
    text = _page()
    start = text.index("### `cell`")
    end = text.index("\n### ", start + 1)
    rows = {}
    for line in text[start:end].split("\n"):
        m = re.match(r"^\| `(\w+)` \|(.*)\|$", line)
        if m:
            rows[m.group(1)] = [c.strip() for c in m.group(2).split("|")]
    return rows


def _spell(v: object) -> str:
    """A default as the spec would write it (None, a key left unset, as `none`)."""
    if v is None:
        return "none"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (tuple, list)):
        return "[" + ", ".join(_spell(x) for x in v) + "]"
    return str(v)


def _defaults() -> dict[str, object]:
    try:
        return dict(_table("CELL_DEFAULTS"))
    except AssertionError:
        return {k: spec.default for k, spec in _table("CELL_KEYS").items()}


def test_cell_key_table_matches_the_compiler() -> None:
    rows = _cell_rows()
    keys = set(_table("CELL_KEYS"))
    assert set(rows) == keys, "the cell-key table lists exactly the compiler's keys"
    for key, default in _defaults().items():
        written = rows[key][1].strip("`")
        assert written == _spell(default), f"default of {key}: page {written!r}"


_FAMILY = re.compile(r"\b(L3|G3|V2|V3|S3|Sh|C2|C3|L|G|T|F)\b")


def test_cell_key_families_match_the_compiler() -> None:
    """The 'applies to' column names the families each key changes (F is T)."""
    rows = _cell_rows()
    for key, spec in _table("CELL_KEYS").items():
        column = rows[key][2]
        named = {"T" if f == "F" else f for f in _FAMILY.findall(column)}
        if getattr(spec, "block_level", False):
            assert column == "block-level", key
        elif spec.applies == "all":
            assert not named, f"{key} applies to every family, the page says {column!r}"
        else:
            want = families_where(spec.applies)
            assert named == set(want), f"{key}: page {sorted(named)}"


def test_limits_are_documented() -> None:
    text = _page()
    for name in ("MAX_CELLS", "MAX_REPEAT", "MAX_GROUP_DEPTH", "MAX_OPERATORS", "MAX_NESTING"):
        value = _table(name)
        assert f"{value}" in text, f"{name} = {value} is not on the page"
    assert _table("MAX_MAGNITUDE") == 2**63 and "2**63" in text


def _sizing_table() -> tuple[list[str], list[list[str]]]:
    """The worked window-sizing table of language.md: rule names and rows of cells."""
    text = _page()
    start = text.index("| k (map) |")
    lines = []
    for line in text[start:].split("\n"):
        if not line.startswith("|"):
            break
        lines.append([c.strip() for c in line.strip("|").split("|")])
    rules = [c.strip("`") for c in lines[0][1:]]
    return rules, lines[2:]


def test_window_sizing_table_matches_the_compiler() -> None:
    """Each cell of the table ("16 / 4") is the window / patch the compiled cell uses."""
    rules, rows = _sizing_table()
    assert rules == ["mixed", "keep_num_window", "keep_window_size"]
    assert len(rows) == 5
    spec = next(f for f in SPECS if "window_sizing = mixed" in f.body).body
    for j, rule in enumerate(rules):
        model = bs.compile(spec.replace("window_sizing = mixed", f"window_sizing = {rule}"))
        for k, row in enumerate(rows):
            place = model.bridge if k == len(rows) - 1 else getattr(model, f"level{k}").enc
            cfg = place.cell0.attn.cfg
            window, patch = (int(x) for x in row[1 + j].split(" ")[0:3:2])
            assert (cfg.window[:2], cfg.patch[:2]) == ((window,) * 2, (patch,) * 2), (rule, k)


def test_pages_speak_to_users() -> None:
    """No words of the project's internal process, no links to notes outside the project."""
    for page in PAGES:
        text = (DOCS / page).read_text(encoding="utf-8")
        for word in (r"\bissues?\b", r"\bthe lead\b", r"\bsessions?\b", r"\.\./shared"):
            assert not re.search(word, text, re.I), f"{page} says {word}"


def test_relative_links_resolve() -> None:
    seen = 0
    for page in PAGES:
        text = (DOCS / page).read_text(encoding="utf-8")
        for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", text):
            assert (DOCS / target).is_file(), f"{page} links to missing {target}"
            seen += 1
    assert seen >= 3
