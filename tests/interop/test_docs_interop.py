"""Every python block of docs/interop.md runs (each where its library is installed)."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[2] / "docs" / "interop.md"
BLOCKS = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S)


def _needs(code: str) -> list[str]:
    return [
        lib for lib in ("timm", "monai") if re.search(rf"^\s*(import|from) {lib}\b", code, re.M)
    ]


def test_the_page_has_examples() -> None:
    assert len(BLOCKS) >= 3
    assert {lib for b in BLOCKS for lib in _needs(b)} == {"timm", "monai"}


@pytest.mark.parametrize("i", range(len(BLOCKS)))
def test_example_runs(i: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    code = BLOCKS[i]
    for lib in _needs(code):
        if importlib.util.find_spec(lib) is None:
            pytest.skip(f"needs {lib}")
    monkeypatch.chdir(tmp_path)  # the examples write files (bs.save)
    exec(compile(code, f"{DOC}:block{i}", "exec"), {"__name__": "__doc_example__"})
