"""Warnings: legal specs that are probably not what was meant. Shown, never fatal, strict
makes them errors; one per place in the text."""

from __future__ import annotations

import glob

import pytest

import blockspec as bs
from blockspec.errors import SpecError, SpecWarning

INP3D = "input { channels = 1, D = 8, H = 32, W = 32 }\n"
INP2D = "input { channels = 1, D = 1, H = 32, W = 32 }\n"
SOA = 'backbone soanet {{ channels = 4, stages = ["{}"] }}\n'


def warns(text: str) -> list[SpecWarning]:
    net = bs.parse(text)  # never fatal
    return list(net.warnings)


def test_a_d_first_window_on_a_3d_input_warns_with_the_fix():
    text = INP3D + "cell { window = [2, 8, 8], heads = 2 }\n" + SOA.format("L3")
    (w,) = warns(text)
    assert w.kind == "warning" and "D-first" in w.message
    assert (w.span.line, w.span.column) == (2, 17)
    assert "write [8, 8, 2]" in w.hint
    assert "warning:" in w.render() and "error:" not in w.render()
    assert warns(text.replace("[2, 8, 8]", "[8, 8, 2]")) == []


def test_a_d_first_patch_in_a_level_entry_warns():
    text = INP3D + "cell { window = [8, 8, 8], heads = 2 }\n"
    text += 'backbone soanet { channels = 4, stages = ["L3"], stage 0 { patch = [1, 2, 2] } }\n'
    (w,) = warns(text)
    assert "patch [1, 2, 2]" in w.message and w.span.line == 3


def test_temporal_cells_on_one_frame_warn_once_per_code():
    text = INP2D + "cell { window = [8, 8, 1], heads = 2 }\n" + SOA.format("(T1L1)*3F0")
    ws = warns(text)
    assert [w.message.split()[0] for w in ws] == ["T1", "F0"]
    assert all("D = 1 frame" in w.message for w in ws)
    assert warns(text.replace("D = 1", "D = 4")) == []


def test_3d_convolutions_on_one_frame_warn_but_lin_swin_does_not():
    text = INP2D + "cell { window = [8, 8, 1], heads = 2 }\n" + SOA.format("C3S3")
    assert [w.message.split()[0] for w in warns(text)] == ["C3", "S3"]
    lin = text.replace("heads = 2", "heads = 2, attention = lin, mixer = lin")
    assert [w.message.split()[0] for w in warns(lin)] == ["C3"]


def test_an_unused_let_warns_and_a_used_one_does_not():
    text = "let C = 4\nlet UNUSED = 3\n" + INP2D + SOA.format("C2").replace("4", "C")
    (w,) = warns(text)
    assert w.message == "let UNUSED is never used" and (w.span.line, w.span.column) == (2, 5)


def test_strict_makes_warnings_errors():
    text = "let UNUSED = 3\n" + INP2D + SOA.format("C2")
    with pytest.raises(SpecError) as info:
        bs.parse(text, strict=True)
    assert isinstance(info.value, SpecWarning) and len(info.value.errors) == 1
    bs.parse(text.replace("let UNUSED = 3\n", ""), strict=True)


@pytest.mark.parametrize(
    "path",
    sorted(
        glob.glob(str(__import__("pathlib").Path(__file__).parents[2] / "examples" / "*.bspec"))
    ),
)
def test_the_examples_are_warning_free(path: str):
    assert bs.parse(path).warnings == ()
