"""Invalid inputs: each raises a SpecError of the right class at an exact line and column.

A case's text marks the expected position with `@` (removed before parsing), so the expectation
is written by hand next to the text rather than taken from the compiler.
"""

from __future__ import annotations

import pytest

import blockspec as bs
from blockspec.errors import ShapeError, SpecError, SpecSyntaxError, SpecValueError

INPUT = "input { channels = 1, D = 1, H = 32, W = 32 }"
CELL = "cell { window = [8, 8, 1], heads = 4 }"
UNET = 'backbone unet { channels = 8, levels = 2, blocks = ["L1G1"] }'


def spec(*lines: str) -> str:
    return "\n".join(lines) + "\n"


def where(marked: str) -> tuple[str, int, int]:
    """Remove the single '@' marker; return the text and the marker's line and column."""
    assert marked.count("@") == 1, marked
    i = marked.index("@")
    line = marked.count("\n", 0, i) + 1
    col = i - (marked.rfind("\n", 0, i) + 1) + 1
    return marked.replace("@", ""), line, col


NESTED17 = "(" * 16 + "@(L1)" + ")" * 16
DEEP_LIST = "[" * 32 + "@[1]" + "]" * 32
MANY_OPS = "@" + "+".join(["1"] * 300)

CASES = {
    # --- sections and keys
    "unknown key": (spec(INPUT, "cell { @windw = [8, 8, 1] }", UNET), SpecValueError),
    "unknown input key": (spec("input { channels = 1, @depth = 1, H = 32, W = 32 }", UNET),
                          SpecValueError),
    "duplicate key": (spec(INPUT, "cell { heads = 4, @heads = 2 }", UNET), SpecValueError),
    "duplicate section": (spec(INPUT, CELL, "@cell { heads = 2 }", UNET), SpecValueError),
    "missing input": (spec(CELL, UNET)[:-1] + "@\n\n", SpecValueError),
    "missing backbone": (spec(INPUT, CELL)[:-1] + "@\n", SpecValueError),
    "missing input key": (spec("input { channels = 1, D = 1, H = 32 @}", UNET), SpecValueError),
    "missing stem key": (spec(INPUT, "stem { channels = 8 @}", UNET), SpecValueError),
    "unknown section": (spec(INPUT, "@foo { a = 1 }", UNET), SpecSyntaxError),
    "unknown backbone": (spec(INPUT, "backbone @unt { levels = 2 }"), SpecValueError),
    "unknown head": (spec(INPUT, UNET, "head @cnv { out_channels = 1 }"), SpecValueError),
    "head without kind": (spec(INPUT, UNET, "@head { out_channels = 1 }"), SpecSyntaxError),
    "level entry outside backbone": (spec(INPUT, "cell { @level 0 { heads = 2 } }", UNET),
                                     SpecSyntaxError),
    "level out of range": (
        spec(INPUT, 'backbone unet { channels = 8, levels = 2, blocks = ["L1"], level @5 { heads'
             ' = 2 } }'), SpecValueError),
    "missing equals": (spec(INPUT, "cell { heads @4 }", UNET), SpecSyntaxError),
    # --- values and types
    "string for int": (spec(INPUT, 'cell { heads = @"4" }', UNET), SpecValueError),
    "int for list": (spec(INPUT, "cell { window = @8 }", UNET), SpecValueError),
    "list too short": (spec(INPUT, "cell { window = @[8, 8] }", UNET), SpecValueError),
    "float for int": (spec(INPUT, 'backbone unet { levels = @2.0, blocks = ["L1"] }'),
                      SpecValueError),
    "unknown norm": (spec(INPUT, "cell { norm = @layr }", UNET), SpecValueError),
    "quoted name": (spec(INPUT, 'cell { activation = @"gelu" }', UNET), SpecValueError),
    "negative dropout": (spec(INPUT, "cell { dropout = @-0.1 }", UNET), SpecValueError),
    "att_dropout one": (spec(INPUT, "cell { att_dropout = @1.0 }", UNET), SpecValueError),
    "mixer_ratio zero": (spec(INPUT, "cell { mixer_ratio = @0 }", UNET), SpecValueError),
    "dynamic outside input": (spec(INPUT, "cell { heads = @? }", UNET), SpecValueError),
    "20 digits": (spec(INPUT, "cell { heads = @12345678901234567890 }", UNET), SpecValueError),
    "unknown name": (spec(INPUT, "cell { heads = @K }", UNET), SpecValueError),
    "patch does not divide window": (
        spec(INPUT, "cell { window = [8, 8, 1], patch = @[3, 3, 1] }", UNET), SpecValueError),
    "channels list length": (
        spec(INPUT, 'backbone unet { channels = @[8, 16, 32], levels = 2, blocks = ["L1"] }'),
        SpecValueError),
    "unterminated string": (spec(INPUT, 'backbone unet { blocks = [@"L1G1] }'), SpecSyntaxError),
    # --- lets and expressions
    "let named like a value": (spec("let @layer = 3", INPUT, UNET), SpecValueError),
    "let named like a keyword": (spec("let @stage = 3", INPUT, UNET), SpecValueError),
    "let twice": (spec("let C = 1", "let @C = 2", INPUT, UNET), SpecValueError),
    "C / 2 as an integer": (
        spec("let C = 16", INPUT,
             'backbone unet { channels = @C / 2, levels = 2, blocks = ["L1"] }'), SpecValueError),
    "9 ** 9 ** 9": (spec("let X = 9 @** 9 ** 9", INPUT, UNET), SpecValueError),
    "division by zero": (spec("let X = 4 @// 0", INPUT, UNET), SpecValueError),
    "string in arithmetic": (spec('let X = @"a" + 1', INPUT, UNET), SpecValueError),
    "undefined name in a let": (spec("let A = @B + 1", INPUT, UNET), SpecValueError),
    "too many operators": (spec(f"let X = {MANY_OPS}", INPUT, UNET), SpecValueError),
    "lists nested too deep": (spec(f"let X = {DEEP_LIST}", INPUT, UNET), SpecValueError),
    # --- block strings
    "bad code L1X1": (spec(INPUT, CELL, 'backbone unet { blocks = ["L1@X1"] }'), SpecValueError),
    "bad code inside a let": (
        spec('let B = "T1@Q1"', INPUT, CELL, "backbone unet { blocks = [B] }"), SpecValueError),
    "(S3Sh)*0": (spec(INPUT, CELL, 'backbone soanet { stages = ["(S3Sh)*@0"] }'),
                 SpecValueError),
    "repeat 1001": (spec(INPUT, CELL, 'backbone soanet { stages = ["L1*@1001"] }'),
                    SpecValueError),
    "((C2)*1000)*1000": (spec(INPUT, CELL, 'backbone soanet { stages = [@"((C2)*1000)*1000"] }'),
                         SpecValueError),
    "groups nest 17 deep": (spec(INPUT, CELL, f'backbone soanet {{ stages = ["{NESTED17}"] }}'),
                            SpecSyntaxError),
    "unclosed group": (spec(INPUT, CELL, 'backbone soanet { stages = ["(S3Sh*3@"] }'),
                       SpecSyntaxError),
    "space before override": (spec(INPUT, CELL, 'backbone soanet { stages = ["L1 (@heads=2)"] }'),
                              SpecSyntaxError),
    "unknown override key": (spec(INPUT, CELL, 'backbone soanet { stages = ["L1(@hedas=2)"] }'),
                             SpecValueError),
    "block-level override": (spec(INPUT, CELL, 'backbone soanet { stages = ["L1(@dense=true)"] }'),
                             SpecValueError),
    "override without effect": (
        spec(INPUT, CELL, 'backbone soanet { stages = ["C2(@heads=2)"] }'), SpecValueError),
    "empty block string": (spec(INPUT, CELL, 'backbone soanet { stages = ["@"] }'),
                           SpecSyntaxError),
    # --- shapes
    "window does not divide": (spec(INPUT, "cell { window = @[12, 12, 1], heads = 4 }", UNET),
                               ShapeError),
    "default window vs input": (
        spec("input { channels = 1, D = 1, H = @24, W = 32 }", "cell { heads = 4 }",
             'backbone soanet { channels = 8, stages = ["L1"] }'), ShapeError),
    "heads do not divide channels": (spec(INPUT, "cell { window = [8, 8, 1], heads = @3 }", UNET),
                                     ShapeError),
    "too many levels": (
        spec(INPUT, CELL, 'backbone unet { channels = 8, levels = @6, blocks = ["C2"] }'),
        ShapeError),
    "G on a dynamic size": (
        spec("input { channels = 1, D = 1, H = ?, W = ? }", CELL,
             'backbone soanet { channels = 8, stages = ["L1@G1"] }'), ShapeError),
    "causal with a frame-mixing norm": (
        spec("input { channels = 1, D = 4, H = 32, W = 32 }",
             "cell { causal = true, heads = 4, norm = @batch2d }",
             'backbone soanet { channels = 8, stages = ["T1"] }'), SpecValueError),
    "temporal stride": (
        spec("input { channels = 1, D = 4, H = 32, W = 32 }",
             "cell { temporal_stride = @[3, 3], heads = 4 }",
             'backbone soanet { channels = 8, stages = ["T1"] }'), ShapeError),
    "layer norm on a dynamic size": (
        spec("input { channels = 1, D = 1, H = ?, W = 32 }", "cell { norm = @layer, heads = 4 }",
             'backbone soanet { channels = 8, stages = ["C2"] }'), ShapeError),
    "stem patch": (spec("input { channels = 1, D = 1, H = 30, W = 32 }",
                        "stem { patch = @[4, 4, 1], channels = 8 }",
                        'backbone soanet { channels = 8, stages = ["C2"] }'), ShapeError),
}  # fmt: skip


@pytest.mark.timeout(10)  # limits are checked before the work: refusals are fast
@pytest.mark.parametrize("name", list(CASES))
def test_invalid_input_points_at_the_right_place(name: str) -> None:
    marked, cls = CASES[name]
    text, line, col = where(marked)
    with pytest.raises(SpecError) as info:
        bs.parse(text)
    err = info.value
    assert isinstance(err, cls), f"{type(err).__name__}: {err}"
    assert (err.span.line, err.span.column) == (line, col), str(err)
    assert err.span.file == "<string>"
    assert err.hint is None or err.hint.strip()


def test_there_are_at_least_40_distinct_cases() -> None:
    assert len(CASES) >= 40
    assert len({c[0] for c in CASES.values()}) == len(CASES)


def test_unknown_override_points_into_overrides() -> None:
    text = spec("let C = 8", INPUT, UNET)
    with pytest.raises(SpecValueError) as info:
        bs.parse(text, overrides={"Q": 3})
    err = info.value
    assert err.span.file == "<overrides>"
    assert (err.span.line, err.span.column) == (1, 3)
    assert "did you mean" not in (err.hint or "") or "C" in err.hint


def test_all_errors_are_collected_and_sorted() -> None:
    text = spec(
        INPUT, "cell { windw = [8, 8, 1], heads = -1 }", 'backbone unet { blocks = ["X1"] }'
    )
    with pytest.raises(SpecError) as info:
        bs.parse(text)
    errs = info.value.errors
    assert len(errs) >= 3
    keys = [(e.span.line, e.span.column) for e in errs]
    assert keys == sorted(keys)
    assert info.value is errs[0]


def test_rendering_shows_line_caret_and_hint() -> None:
    text = spec(INPUT, "cell { window = [12, 12, 1], heads = 4 }", UNET)
    with pytest.raises(ShapeError) as info:
        bs.parse(text)
    out = str(info.value)
    first, src, caret, hint = out.splitlines()[:4]
    assert first.startswith("<string>:2:17: error: window 12 does not divide")
    assert src.endswith("cell { window = [12, 12, 1], heads = 4 }")
    assert caret.index("^") == src.index("[")
    assert caret.count("^") == len("[12, 12, 1]")
    assert hint.startswith("hint:") and "8" in hint
