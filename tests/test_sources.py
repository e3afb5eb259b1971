"""Reading spec sources (`blockspec.sources`, used by `bs.parse` and `bs.format`): which str is
a path, what a file must be (regular, at most 1 MB, UTF-8), and that each failure is a clear
`SpecError` found without reading much or waiting."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import blockspec as bs
from blockspec.errors import SpecError, SpecSyntaxError, SpecValueError

LIMIT = 1_000_000  # the documented limit (docs/cli.md, "Spec sources")
SMALL = (
    "input { channels = 1, D = 1, H = 16, W = 16 }\n"
    'backbone soanet { channels = 8, stages = ["C2"] }\n'
)


@pytest.fixture
def spec_file(tmp_path: Path) -> Path:
    f = tmp_path / "small.bspec"
    f.write_text(SMALL, encoding="utf-8")
    return f


@pytest.mark.timeout(30)
@pytest.mark.parametrize("as_str", [True, False])
def test_a_fifo_is_refused_without_blocking(tmp_path: Path, as_str: bool) -> None:
    fifo = tmp_path / "pipe.bspec"
    os.mkfifo(fifo)  # nobody writes: opening it for reading in blocking mode waits forever
    with pytest.raises(SpecValueError, match="FIFO") as info:
        bs.parse(str(fifo) if as_str else fifo)
    assert str(fifo) in info.value.message
    with pytest.raises(SpecValueError, match="FIFO"):
        bs.format(fifo)


def test_a_device_and_a_folder_are_refused(tmp_path: Path) -> None:
    with pytest.raises(SpecValueError, match="/dev/zero is a device"):
        bs.parse(Path("/dev/zero"))
    with pytest.raises(SpecValueError, match="is a folder") as info:
        bs.parse(tmp_path)
    assert "inside it" in (info.value.hint or "")
    with pytest.raises(SpecSyntaxError) as syntax:
        bs.parse(".")  # a folder named by a str is text (so "." is never a path), with a hint
    assert "'.' is a folder" in (syntax.value.hint or "")
    assert syntax.value.span is not None and syntax.value.span.file == "<string>"


def test_a_file_over_the_limit_is_refused(tmp_path: Path) -> None:
    big = tmp_path / "big.bspec"
    big.write_text("#" * LIMIT + "\n", encoding="utf-8")  # LIMIT + 1 bytes
    with pytest.raises(SpecValueError, match="over the limit of 1,000,000 bytes"):
        bs.parse(big)
    with pytest.raises(SpecValueError, match="over the limit"):
        bs.format(big)


def test_a_huge_sparse_file_is_refused_from_its_size(tmp_path: Path) -> None:
    sparse = tmp_path / "x.bspec"
    with open(sparse, "wb") as f:
        f.truncate(10 * 10**9)  # 10 GB of holes: reading it whole would exhaust memory
    with pytest.raises(SpecValueError, match="10,000,000,000 bytes"):
        bs.parse(sparse)


def test_a_file_at_the_limit_is_read(tmp_path: Path) -> None:
    edge = tmp_path / "edge.bspec"
    edge.write_text("#" * (LIMIT - 1) + "\n", encoding="utf-8")  # exactly LIMIT bytes
    with pytest.raises(SpecValueError, match="missing section 'input'"):
        bs.parse(edge)  # read and parsed: only the missing sections are wrong


def test_text_over_the_limit_is_refused() -> None:
    with pytest.raises(SpecValueError, match="over the limit"):
        bs.parse("\n" * (LIMIT + 1))
    with pytest.raises(SpecValueError, match="over the limit"):
        bs.format("#" + "é" * (LIMIT // 2) + "\n")  # few characters, many bytes


def test_a_byte_order_mark_is_skipped(tmp_path: Path) -> None:
    f = tmp_path / "bom.bspec"
    f.write_bytes(b"\xef\xbb\xbf" + SMALL.encode())
    assert bs.parse(f).backbone == bs.parse(SMALL).backbone
    assert bs.format(f) == bs.format(SMALL)
    assert bs.parse("\ufeff" + SMALL).backbone == bs.parse(SMALL).backbone


def test_not_utf8_names_the_line_and_column(tmp_path: Path) -> None:
    f = tmp_path / "latin1.bspec"
    f.write_bytes(SMALL.encode() + "# café\n".encode("latin-1"))
    with pytest.raises(SpecSyntaxError, match="not UTF-8") as info:
        bs.parse(f)
    span = info.value.span
    assert span is not None and (span.line, span.column) == (3, 6)
    assert "0xe9" in info.value.message


@pytest.mark.parametrize("text", ["x\0.bspec", "examples/\0swin_t.bspec"])
def test_a_nul_byte_in_a_name_is_a_spec_error(text: str) -> None:
    with pytest.raises(SpecValueError, match="NUL"):
        bs.parse(text)
    with pytest.raises(SpecValueError, match="NUL"):
        bs.parse(Path(text))


def test_a_nul_byte_in_text_is_a_syntax_error() -> None:
    with pytest.raises(SpecSyntaxError):
        bs.parse(SMALL + "let C = 1\0\n")


def test_a_spec_looking_one_liner_is_text() -> None:
    with pytest.raises(SpecError) as info:
        bs.parse("# examples/swin_t.bspec")  # a comment, not a file name
    err = info.value
    assert "no such spec file" not in err.message
    assert err.span is not None and err.span.file == "<string>"
    assert "missing section 'input'" in err.message


def test_any_existing_file_name_is_a_path(tmp_path: Path, spec_file: Path) -> None:
    txt = tmp_path / "net.txt"
    txt.write_text(SMALL, encoding="utf-8")
    assert bs.parse(str(txt)).backbone == bs.parse(txt).backbone == bs.parse(SMALL).backbone
    assert bs.parse(str(txt)).file == str(txt)
    assert bs.parse(spec_file).file == str(spec_file)
    assert bs.format(str(txt)) == bs.format(SMALL)


def test_a_missing_file_name_hints_at_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "net.txt"
    with pytest.raises(SpecSyntaxError) as info:
        bs.parse(str(missing))
    assert f"'{missing}' names no file" in (info.value.hint or "")
    with pytest.raises(SpecValueError, match="no such spec file"):
        bs.parse(str(tmp_path / "net.bspec"))  # a .bspec name without spec syntax: a path


def test_a_one_line_spec_is_text_not_a_path() -> None:
    with pytest.raises(SpecSyntaxError) as info:
        bs.parse("let C = 1 input { channels = 1 }")
    assert "names no file" not in (info.value.hint or "")
