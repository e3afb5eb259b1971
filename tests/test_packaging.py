"""Packaging facts a user relies on: the LICENSE matches pyproject's licence, the extras
cover what their modules import, and the dependency ranges admit the torch releases we
support."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")
specifiers = pytest.importorskip("packaging.specifiers")
requirements = pytest.importorskip("packaging.requirements")

ROOT = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
IMPORT_NAMES = {"hypothesis": "hypothesis", "torch": "torch", "lark": "lark",
                "einops": "einops", "numpy": "numpy"}  # fmt: skip


def _requirements(names: list[str]) -> dict[str, requirements.Requirement]:
    reqs = [requirements.Requirement(r) for r in names]
    return {r.name.lower(): r for r in reqs}


def test_license_file_matches_pyproject() -> None:
    assert PROJECT["license"] == {"text": "Apache-2.0"}
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert "Apache License" in text and "Version 2.0, January 2004" in text
    assert "TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION" in text
    assert "END OF TERMS AND CONDITIONS" in text
    assert len(text.split()) > 1500  # the whole licence, not a pointer to it


def test_torch_range_admits_the_supported_releases() -> None:
    torch = _requirements(PROJECT["dependencies"])["torch"]
    for version in ("2.13.0", "2.14.1"):
        assert torch.specifier.contains(version), (str(torch.specifier), version)


def _third_party_imports(folder: Path) -> set[str]:
    names: set[str] = set()
    for path in folder.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names.update(a.name.split(".")[0] for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return {n for n in names if n not in sys.stdlib_module_names and n != "blockspec"}


def test_testing_extra_covers_blockspec_testing() -> None:
    extras = PROJECT["optional-dependencies"]
    assert "testing" in extras
    provided = _requirements(PROJECT["dependencies"]) | _requirements(extras["testing"])
    importable = {IMPORT_NAMES[name] for name in provided if name in IMPORT_NAMES}
    needed = _third_party_imports(ROOT / "src" / "blockspec" / "testing")
    assert "hypothesis" in needed
    assert needed <= importable, needed - importable
    hypothesis = provided["hypothesis"]
    assert hypothesis.specifier.contains("6.90.0")
