"""The README's tour works after its two set-up commands, or says what to install first."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_readme_starts_with_the_two_setup_commands() -> None:
    block = README.split("```bash\n", 1)[1].split("```", 1)[0]
    commands = [line.split("#")[0].strip() for line in block.splitlines()]
    assert commands == ["make demo", "make test"]
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert re.search(r"^demo:", makefile, re.M) and re.search(r"^test:", makefile, re.M)
    assert "graphviz" not in makefile.lower()  # so the README must say how to get `dot`


def test_graph_to_svg_comes_after_how_to_install_graphviz() -> None:
    svg = re.search(r"blockspec graph \S+ -o \S+\.(svg|png)", README)
    assert svg, "the tour draws an SVG or PNG"
    before = README[: svg.start()]
    step = before[before.rindex("**4.") :]  # the tour step that draws it
    assert "apt-get install graphviz" in step and "brew install graphviz" in step
    assert "make demo" in step  # says the set-up commands do not install it
    assert re.search(r"-o \S+\.dot`? [^.]*needs nothing", before)  # the way without Graphviz
