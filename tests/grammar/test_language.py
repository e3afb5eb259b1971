"""The language as documented: LANGUAGE.md's examples, the reference block strings, examples/,
and the canonical formatter's round trip."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import blockspec as bs
from blockspec.compiler.ast import parse_spec
from blockspec.language import CODES

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared"
EXAMPLES = sorted((ROOT / "examples").glob("*.bspec"))


def language_examples() -> list[str]:
    page = SHARED / "LANGUAGE.md"
    if not page.exists():
        return []
    blocks = re.findall(r"```\n(.*?)```", page.read_text(encoding="utf-8"), flags=re.S)
    return [b for b in blocks if "input {" in b and "backbone" in b]


@pytest.mark.skipif(not (SHARED / "LANGUAGE.md").exists(), reason="../shared not beside the repo")
def test_every_language_md_example_parses() -> None:
    found = language_examples()
    assert len(found) >= 3
    for text in found:
        net = bs.parse(text)
        assert list(net.cells())


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_examples_parse_and_are_canonical(path: Path) -> None:
    net = bs.parse(path)
    assert list(net.cells())
    text = path.read_text(encoding="utf-8")
    formatted = bs.format(text)
    assert formatted == text, "examples are kept in canonical form (blockspec fmt -w)"
    assert parse_spec(formatted) == parse_spec(text)
    assert bs.parse(formatted) == net
    # every comment survives formatting
    for comment in re.findall(r"#[^\n]*", text):
        assert comment.rstrip() in formatted


def test_required_examples_exist() -> None:
    names = {p.name for p in EXAMPLES}
    assert {
        "unet_cine.bspec",
        "hrnet3.bspec",
        "swin_t.bspec",
        "vit_b16.bspec",
        "vit3d.bspec",
    } <= names


# The reference block strings of the original documentation and the cells they document:
# (code, family, has a mixer).
REFERENCE = {
    "L1G1T1": [("L1", "L", True), ("G1", "G", True), ("T1", "T", True)],
    "L0L1G0G1T1": [("L0", "L", False), ("L1", "L", True), ("G0", "G", False), ("G1", "G", True),
                   ("T1", "T", True)],
    "S3ShS3ShS3Sh": [("S3", "S3", True), ("Sh", "Sh", True)] * 3,
    "V3V3V3V3": [("V3", "V3", True)] * 4,
    "C2C2C2": [("C2", "C2", True)] * 3,
    "C3C3C3": [("C3", "C3", True)] * 3,
    "T1V2S3ShL1V2S3ShG1V2S3Sh": [
        ("T1", "T", True), ("V2", "V2", True), ("S3", "S3", True), ("Sh", "Sh", True),
        ("L1", "L", True), ("V2", "V2", True), ("S3", "S3", True), ("Sh", "Sh", True),
        ("G1", "G", True), ("V2", "V2", True), ("S3", "S3", True), ("Sh", "Sh", True),
    ],
}  # fmt: skip


@pytest.mark.parametrize("text", list(REFERENCE))
def test_reference_block_strings(text: str) -> None:
    spec = (
        "input { channels = 1, D = 4, H = 16, W = 16 }\n"
        "cell { window = [4, 4, 2], patch = [2, 2, 1], heads = 2 }\n"
        f'backbone soanet {{ channels = 8, stages = ["{text}"] }}\n'
    )
    cells = list(bs.parse(spec).cells())
    got = [(c.config.code, c.config.family, c.config.has_mixer) for c in cells]
    assert got == REFERENCE[text]


def test_f_codes_are_aliases_of_t() -> None:
    assert CODES["F1"] == CODES["T1"] and CODES["F0"] == CODES["T0"]


@pytest.mark.parametrize(
    "block, codes",
    [
        ("(S3Sh)*3", ["S3", "Sh"] * 3),
        ("S3Sh*3", ["S3", "Sh", "Sh", "Sh"]),
        ("T1 L1(heads=4) G1", ["T1", "L1", "G1"]),
        ("((L1)*2 G1)*2", ["L1", "L1", "G1"] * 2),
        ("  L1 * 2 ", ["L1", "L1"]),
    ],
)
def test_repetition_and_spaces(block: str, codes: list[str]) -> None:
    spec = (
        "input { channels = 1, D = 1, H = 16, W = 16 }\n"
        "cell { window = [4, 4, 1], heads = 2 }\n"
        f'backbone soanet {{ channels = 8, stages = ["{block}"] }}\n'
    )
    assert [c.config.code for c in bs.parse(spec).cells()] == codes


def test_per_cell_override_wins_over_level_and_cell() -> None:
    spec = (
        "input { channels = 1, D = 1, H = 16, W = 16 }\n"
        "cell { window = [4, 4, 1], heads = 2 }\n"
        'backbone soanet { channels = 8, stages = ["L1 L1(heads=8)"], stage 0 { heads = 4 } }\n'
    )
    assert [c.config.heads for c in bs.parse(spec).cells()] == [4, 8]


def test_lets_and_overrides_are_re_evaluated() -> None:
    spec = (
        "let C = 8\nlet C2 = C * 2\n"
        "input { channels = 1, D = 1, H = 16, W = 16 }\n"
        "cell { window = [4, 4, 1], heads = 2 }\n"
        'backbone soanet { channels = [C, C2], stages = ["L1", "L1"] }\n'
    )
    assert [b.c_out for b in bs.parse(spec).blocks()] == [8, 16]
    assert [b.c_out for b in bs.parse(spec, overrides={"C": 4}).blocks()] == [4, 8]


def test_window_sizing_rules() -> None:
    def windows(rule: str) -> list[int]:
        spec = (
            "input { channels = 1, D = 1, H = 256, W = 256 }\n"
            "cell { window = [16, 16, 1], patch = [4, 4, 1], heads = 1, "
            f"window_sizing = {rule} }}\n"
            'backbone soanet { channels = 4, stages = ["L1", "L1", "L1", "L1", "L1"] }\n'
        )
        return [c.config.window[0] for c in bs.parse(spec).cells()]

    # maps 256, 128, 64, 32, 16; SEMANTICS.md: mixed halves every second level
    assert windows("keep_window_size") == [16, 16, 16, 16, 16]
    assert windows("keep_num_window") == [16, 8, 4, 2, 1]
    assert windows("mixed") == [16, 16, 8, 8, 4]


def test_window_is_clamped_to_a_small_map() -> None:
    spec = (
        "input { channels = 1, D = 1, H = 10, W = 10 }\n"
        "cell { window = [16, 16, 1], patch = [4, 4, 1], heads = 1, window_sizing = "
        "keep_window_size }\n"
        'backbone soanet { channels = 4, stages = ["L1"] }\n'
    )
    cell = next(bs.parse(spec).cells())
    assert cell.config.window[:2] == (10, 10)
    assert cell.config.patch[:2] == (2, 2)  # the largest divisor of 10 not above 4


def test_format_keeps_comments_and_is_idempotent() -> None:
    text = (
        "# header\nlet C=8 # width\ninput{channels=1;D=1,H=16\nW=16}\n"
        "cell {\n  # the window\n  window=[4,4,1] # trailing\n  heads=2\n  # before close\n}\n"
        'backbone soanet{channels=C,stages=["L1"];stage 0{heads=1}}\n# tail\n'
    )
    out = bs.format(text)
    assert bs.format(out) == out
    for c in ["# header", "# width", "# the window", "# trailing", "# before close", "# tail"]:
        assert c in out
    assert parse_spec(out) == parse_spec(text)
    assert bs.parse(out) == bs.parse(text)
    assert "  window = [4, 4, 1]  # trailing" in out
