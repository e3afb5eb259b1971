"""Every python block of docs/performance.md runs, and the page names what it documents.

The torch.compile example runs here with `torch.compile` recorded, not run: tracing every
backbone without graph breaks, and inductor once, are tested in tests/test_export.py."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "performance.md"
BLOCKS = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S)


def test_the_page_has_its_examples_and_is_linked() -> None:
    assert len(BLOCKS) >= 2
    assert any("torch.compile" in b for b in BLOCKS) and any("bench(" in b for b in BLOCKS)
    assert "docs/performance.md" in (ROOT / "README.md").read_text()


@pytest.mark.parametrize("i", range(len(BLOCKS)))
def test_example_runs(i: int, monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[dict] = []

    def recorded_compile(model, **kwargs):  # noqa: ANN001, ANN003, ANN202
        asked.append(kwargs)
        return model  # tracing is tested in tests/test_export.py, not here

    monkeypatch.setattr(torch, "compile", recorded_compile)
    exec(compile(BLOCKS[i], f"{DOC}:block{i}", "exec"), {"__name__": "__doc_example__"})
    if "torch.compile" in BLOCKS[i]:
        assert asked == [{"fullgraph": True}]  # the recipe asks for one graph
