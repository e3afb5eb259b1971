"""The package's layers import only what the table allows (relative imports resolved).

Parts, from the leaves up: `errors`; the language table; the grammar; the compiler (only
`compiler.lower` reaches the runtime's modules); the runtime (plain torch.nn: never the
compiler or the API); then the API, checkpoints, graph, the extras, and the command line.
Nothing imports `cli` or `testing` (tests aside).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import blockspec

SRC = Path(blockspec.__file__).resolve().parent
PKG = "blockspec"

#: module prefix -> part (the longest matching prefix wins)
PARTS = {
    "blockspec.errors": "errors",
    "blockspec.language": "language",
    "blockspec.grammar": "grammar",
    "blockspec.compiler": "compiler",
    "blockspec.compiler.lower": "lower",
    "blockspec.runtime": "runtime",
    "blockspec.api": "api",
    "blockspec.block_api": "api",
    "blockspec.sources": "api",
    "blockspec._io": "io",
    "blockspec._digest": "checkpoint",
    "blockspec._ckformat": "checkpoint",
    "blockspec.checkpoint": "checkpoint",
    "blockspec.graph": "graph",
    "blockspec.bench": "bench",
    "blockspec._measure": "bench",
    "blockspec.training": "training",
    "blockspec.interop": "interop",
    "blockspec.registry": "registry",
    "blockspec.cli": "cli",
    "blockspec.clitools": "cli",
    "blockspec.cligraph": "cli",
    "blockspec.__main__": "main",
    "blockspec.testing": "testing",
    "blockspec": "package",
}
_CORE = {"errors", "language", "grammar", "compiler"}
#: part -> the parts it may import (besides itself)
ALLOWED: dict[str, set[str]] = {
    "errors": set(),
    "language": {"errors"},
    "grammar": {"errors", "language"},
    "compiler": {"errors", "language", "grammar"},
    "lower": {"errors", "language", "compiler", "runtime"},
    "runtime": {"errors", "language"},
    "api": _CORE | {"lower", "registry"},
    "io": {"errors"},
    "checkpoint": _CORE | {"api", "io", "lower", "package"},
    "graph": _CORE,
    "registry": _CORE,
    "interop": _CORE | {"api", "checkpoint", "lower", "registry", "package"},
    "bench": _CORE | {"api", "lower", "package"},
    "training": _CORE | {"api", "checkpoint", "runtime", "package", "registry", "io"},
    "package": _CORE | {"api", "checkpoint", "registry", "interop", "training"},
    "cli": _CORE
    | {"api", "io", "checkpoint", "graph", "bench", "training", "registry", "interop", "package"},
    "main": {"cli"},
    "testing": _CORE | {"api", "package", "lower"},
}


def part_of(module: str) -> str | None:
    best = None
    for prefix in PARTS:
        if (module == prefix or module.startswith(prefix + ".")) and (
            best is None or len(prefix) > len(best)
        ):
            best = prefix
    return None if best is None else PARTS[best]


def module_name(path: Path, root: Path) -> tuple[str, bool]:
    """The dotted module name of `path` and whether it is a package's __init__."""
    rel = path.relative_to(root.parent).with_suffix("")
    parts = list(rel.parts)
    is_pkg = parts[-1] == "__init__"
    if is_pkg:
        parts = parts[:-1]
    return ".".join(parts), is_pkg


def imports_of(source: str, module: str, is_pkg: bool, root: Path) -> list[tuple[int, str]]:
    """(line, imported module) of every import in `source`, relative ones resolved; a name
    imported from a package is taken as its submodule when that module exists."""
    out: list[tuple[int, str]] = []
    package = module if is_pkg else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            out.extend((node.lineno, a.name) for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            for a in node.names:
                sub = f"{target}.{a.name}"
                rel = Path(*sub.split(".")[1:])
                if (root / rel).with_suffix(".py").exists() or (root / rel).is_dir():
                    out.append((node.lineno, sub))  # a submodule
                else:
                    out.append((node.lineno, target))  # a name defined in `target`
    return out


def violations(files: dict[str, str], root: Path) -> list[str]:
    """Every import edge the table does not allow, as 'module:line imports target'."""
    bad = []
    for rel, source in sorted(files.items()):
        module, is_pkg = module_name(root / rel, root)
        src_part = part_of(module)
        assert src_part is not None, f"{module} is in no part: add it to PARTS"
        for line, target in imports_of(source, module, is_pkg, root):
            dst_part = part_of(target)
            if dst_part is None or dst_part == src_part:
                continue  # outside the package, or within one part
            if dst_part not in ALLOWED[src_part]:
                bad.append(f"{module}:{line} imports {target} ({src_part} -> {dst_part})")
    return bad


def package_files() -> dict[str, str]:
    return {str(p.relative_to(SRC)): p.read_text() for p in sorted(SRC.rglob("*.py"))}


def test_the_package_follows_the_layering():
    assert violations(package_files(), SRC) == []


@pytest.mark.parametrize(
    "rel, source",
    [
        ("runtime/cell.py", "from ..compiler import ir\n"),  # relative
        ("runtime/cell.py", "from blockspec import compiler\n"),  # a submodule by name
        ("runtime/norms.py", "import blockspec.api\n"),
        ("compiler/infer.py", "from ..runtime.layers import conv3\n"),  # only lower may
        ("language/keys.py", "from ..compiler import values\n"),  # the table is a leaf
        ("api.py", "from .cli import main\n"),  # nothing imports the CLI
        ("graph/__init__.py", "from ..testing import strategies\n"),
    ],
)
def test_a_forbidden_edge_is_reported(rel: str, source: str):
    files = package_files()
    files[rel] = files[rel] + source
    found = violations(files, SRC)
    module = "blockspec." + rel.removesuffix(".py").removesuffix("/__init__").replace("/", ".")
    assert len(found) == 1 and found[0].startswith(module + ":"), found


def test_relative_imports_resolve():
    got = imports_of("from ..compiler import ir\nfrom . import x\n", "blockspec.runtime.cell",
                     False, SRC)  # fmt: skip
    assert (1, "blockspec.compiler.ir") in got and (1, "blockspec.compiler") not in got
    assert (2, "blockspec.runtime") in got


def test_import_blockspec_does_not_import_torch():
    import subprocess
    import sys

    code = (
        "import sys, blockspec as bs\n"
        "bs.summary(bs.parse('input { channels = 1, D = 1, H = 16, W = 16 }\\n"
        'backbone soanet { channels = 8, stages = ["C2"] }\'))\n'
        "bs.format('let C = 1\\n')\n"
        "import blockspec.cli\n"
        "print('torch' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False", out.stderr


@pytest.mark.parametrize("command", ["check", "summary", "fmt"])
def test_the_light_commands_do_not_import_torch(command: str, tmp_path):
    import subprocess
    import sys

    spec = tmp_path / "s.bspec"
    spec.write_text(
        'input { channels = 1, D = 1, H = 8, W = 8 }\nbackbone soanet { channels = 4, stages = ["C2"] }\n'  # noqa: E501
    )
    code = (
        "import sys, contextlib, io\n"
        "from blockspec.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        f"    rc = main([{command!r}, {str(spec)!r}])\n"
        "print(rc, 'torch' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["0", "False"], out.stderr
