"""The `blockspec` command line, run as a subprocess (`python -m blockspec ...`).

Starting Python and importing torch costs seconds per call, so the calls that do not depend on
each other run concurrently, once per module (`results`); the tests then read their outcome.
"""

from __future__ import annotations

import json
import os
import pty
import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

import blockspec as bs
from blockspec.api import OverrideText
from blockspec.compiler import ir
from blockspec.graph import to_dot

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples").glob("*.bspec"))
ESC = "\x1b["
HAVE_DOT = shutil.which("dot") is not None
GRAPHS = {"unet": "unet_cine.bspec", "hrnet": "hrnet3.bspec", "soanet": "swin_t.bspec"}
GRAPH_SUFFIX = {"unet": "svg" if HAVE_DOT else "dot", "hrnet": "png" if HAVE_DOT else "dot",
                "soanet": "dot"}  # fmt: skip
JSON_EXAMPLES = ["hrnet3.bspec", "soanet_swin3d.bspec", "unet_cine.bspec"]  # one per backbone

BROKEN = """\
input { channels = 1, D = 1, H = 64, W = 64 }
cell { dropout = -0.5 }
backbone unet { channels = 32, levels = 2, blocks = ["L1X1"] }
"""
NOT_CANONICAL = (
    'let C=32\ninput{channels=1,D=1,H=32,W=32}  # kept\nbackbone soanet{channels=C,stages=["C2"]}\n'
)
SYNTAX_ERROR = "input { channels = 1,\nbackbone soanet { channels = 8 \n"


@dataclass
class Run:
    args: list[str]
    code: int
    out: str
    err: str


def env(**extra: str) -> dict[str, str]:
    e = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    e["PYTHONWARNINGS"] = "ignore"  # torch's import-time warnings are not the CLI's output
    e.update(extra)
    return e


def run(*args: object, tty: bool = False, **env_extra: str) -> Run:
    """`python -m blockspec ARGS`; with `tty` its stderr is a pseudo-terminal."""
    argv = [sys.executable, "-m", "blockspec", *map(str, args)]
    if not tty:
        p = subprocess.run(
            argv, capture_output=True, text=True, env=env(**env_extra), cwd=ROOT, timeout=120
        )
        return Run(argv[3:], p.returncode, p.stdout, p.stderr)
    master, slave = pty.openpty()
    p = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=slave, env=env(**env_extra), cwd=ROOT, text=True
    )
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: the child closed its end
            break
        if not data:
            break
        chunks.append(data)
    out = p.stdout.read() if p.stdout else ""
    code = p.wait(timeout=120)
    os.close(master)
    return Run(argv[3:], code, out, b"".join(chunks).decode("utf-8", "replace"))


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("cli")
    paths = {
        "broken": d / "broken.bspec",
        "noncanon": d / "noncanon.bspec",
        "syntax": d / "syntax.bspec",
        "fmtdir": d / "fmt",
        "out": d / "out",
    }
    paths["broken"].write_text(BROKEN, encoding="utf-8")
    paths["noncanon"].write_text(NOT_CANONICAL, encoding="utf-8")
    paths["syntax"].write_text(SYNTAX_ERROR, encoding="utf-8")
    paths["fmtdir"].mkdir()
    paths["out"].mkdir()
    for ex in EXAMPLES:
        shutil.copy(ex, paths["fmtdir"] / ex.name)
    return paths


@pytest.fixture(scope="module")
def results(files: dict[str, Path]) -> dict[str, Run]:
    """Every independent call, run concurrently (one per core)."""
    out = files["out"]
    good = ROOT / "examples" / "hrnet3.bspec"
    calls: dict[str, tuple[tuple, dict]] = {
        "check_examples": ((("check", *EXAMPLES)), {}),
        "check_broken": (
            ("check", good, files["broken"], out / "missing.bspec", "examples/vit3d.bspec")
            + ("--max-params", "3M"),
            {},
        ),
        "check_set": (("check", "examples/unet_cine.bspec", "--set", "C=16"), {}),
        "check_set_unknown": (("check", good, "--set", "C=8", "--set", "NOPE=2*3"), {}),
        "usage_set": (("check", good, "--set", "C"), {}),
        "help": (("--help",), {}),
        "version": (("--version",), {}),
        "summary_depth": (("summary", "examples/unet_cine.bspec", "--depth", "1"), {}),
        "compile": (("compile", good, "-o", out / "hrnet3.pt", "--seed", "3"), {}),
        "fmt_print": (("fmt", files["noncanon"]), {}),
        "fmt_check": (("fmt", "--check", files["noncanon"], good), {}),
        "fmt_w_examples": (("fmt", "-w", *sorted(files["fmtdir"].iterdir())), {}),
        "graph_nodot": (
            ("graph", good, "-o", out / "nodot.svg"),
            {"PATH": str(out)},  # no `dot` there
        ),
        "color_tty": (("check", files["broken"]), {"tty": True}),
        "color_tty_no_color": (("check", files["broken"]), {"tty": True, "NO_COLOR": "1"}),
    }
    for name in JSON_EXAMPLES:
        calls[f"json_{name}"] = (("summary", f"examples/{name}", "--json"), {})
    for kind, name in GRAPHS.items():
        target = out / f"{kind}.{GRAPH_SUFFIX[kind]}"
        calls[f"graph_{kind}"] = (("graph", f"examples/{name}", "-o", target), {})
    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
        futures = {k: pool.submit(run, *a, **kw) for k, (a, kw) in calls.items()}
        return {k: f.result() for k, f in futures.items()}


def clean(r: Run) -> None:
    """No traceback and, off a terminal, no escape codes."""
    assert "Traceback" not in r.err, r.err
    assert ESC not in r.err and ESC not in r.out


# -- check -----------------------------------------------------------------------------


def test_check_examples(results: dict[str, Run]) -> None:
    r = results["check_examples"]
    assert r.code == 0, r.err
    clean(r)
    lines = r.out.splitlines()
    assert len(lines) == len(EXAMPLES) + 1
    assert lines[-1] == f"{len(EXAMPLES)} ok, 0 failed"
    for ex, line in zip(EXAMPLES, lines):
        net = bs.parse(ex)
        cells = sum(1 for _ in net.cells())
        params = bs.summary(net).totals.params
        note = ""
        if any(isinstance(a, ir.Sym) for a in net.input.size):  # names the size of the figures
            inp = net.input
            sizes = [a if isinstance(a, int) else m for a, m in zip(inp.size, inp.minimum)]
            at = "[" + ", ".join(map(str, [inp.channels, *sizes])) + "]"
            note = (
                f"; dynamic sizes: budgets checked at {at}, and again at run time at the size fed"
            )
        assert line == f"{ex}: ok ({cells} cells, {params:,} params{note})"


def test_check_reports_every_error_sorted(results: dict[str, Run], files) -> None:
    r = results["check_broken"]
    assert r.code == 1
    clean(r)
    assert r.out.startswith(f"{ROOT / 'examples' / 'hrnet3.bspec'}: ok (")
    places = re.findall(r"^(\S+\.bspec):(\d+):(\d+): error: (.*)$", r.err, re.M)
    broken = [(int(l), int(c), m) for f, l, c, m in places if f == str(files["broken"])]
    assert len(broken) == 2, r.err
    assert broken == sorted(broken)
    assert broken[0][:2] == (2, 18) and "dropout" in broken[0][2]
    assert broken[1][:2] == (3, 57) and "X1" in broken[1][2]
    assert " 2 | cell { dropout = -0.5 }" in r.err and "^^^^" in r.err
    assert "hint:" in r.err
    assert "error: no such spec file" in r.err and "missing.bspec" in r.err
    assert "examples/vit3d.bspec:" in r.err and "over the budget of 3.00M" in r.err
    assert "--max-params" in r.err
    assert r.out.splitlines()[-1] == "1 ok, 3 failed"


def test_check_set_overrides(results: dict[str, Run]) -> None:
    r = results["check_set"]
    assert r.code == 0, r.err
    net = bs.parse(ROOT / "examples/unet_cine.bspec", {"C": OverrideText("16")})
    assert net.backbone.channels == (16, 32, 64)
    assert f"{bs.summary(net).totals.params:,} params" in r.out


def test_check_unknown_override_points_into_overrides(results: dict[str, Run]) -> None:
    r = results["check_set_unknown"]
    assert r.code == 1
    clean(r)
    assert f"<overrides of {ROOT / 'examples' / 'hrnet3.bspec'}>:2:" in r.err and "NOPE" in r.err
    assert " 2 | NOPE=2*3" in r.err


def test_usage_errors_exit_2(results: dict[str, Run]) -> None:
    r = results["usage_set"]
    assert r.code == 2, r.err
    assert "usage: blockspec check" in r.err and "NAME=VALUE" in r.err
    assert "Traceback" not in r.err


def test_help_and_version(results: dict[str, Run]) -> None:
    h = results["help"]
    assert h.code == 0
    for word in ("check", "summary", "compile", "fmt", "graph", "examples:", "NO_COLOR"):
        assert word in h.out
    v = results["version"]
    assert v.code == 0 and v.out.strip() == f"blockspec {bs.__version__}"


# -- colour ------------------------------------------------------------------------------


def test_colour_only_on_a_terminal_without_no_color(results: dict[str, Run]) -> None:
    tty = results["color_tty"]
    assert tty.code == 1
    assert ESC in tty.err and "dropout" in tty.err
    plain = results["color_tty_no_color"]
    assert plain.code == 1
    assert ESC not in plain.err and "dropout" in plain.err
    clean(results["check_broken"])  # a pipe: no colour either


# -- summary -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", JSON_EXAMPLES)
def test_summary_json_agrees_with_api(results: dict[str, Run], name: str) -> None:
    example = ROOT / "examples" / name
    r = results[f"json_{name}"]
    assert r.code == 0, r.err
    clean(r)
    data = json.loads(r.out)
    s = bs.summary(example)
    t = s.totals
    totals = {k: data["totals"][k] for k in ("params", "flops", "memory_bytes")}
    assert totals == {"params": t.params, "flops": t.flops, "memory_bytes": t.memory}
    assert [(n["path"], n["params"]) for n in data["nodes"]] == [
        (row.path, row.stats.params) for row in s.rows
    ]
    assert data["file"] == f"examples/{name}"
    assert data == {**json.loads(json.dumps(s.to_dict())), "file": f"examples/{name}"}
    assert set(data) >= {"file", "input", "dynamic", "nodes", "totals", "figures_at", "batch"}


def test_summary_table_depth(results: dict[str, Run]) -> None:
    r = results["summary_depth"]
    assert r.code == 0, r.err
    assert r.out.strip() == bs.summary(ROOT / "examples/unet_cine.bspec").table(1).strip()
    assert "level0 " in r.out and "level0.enc" not in r.out


# -- compile -----------------------------------------------------------------------------


def test_compile_saves_a_loadable_checkpoint(results: dict[str, Run], files) -> None:
    r = results["compile"]
    assert r.code == 0, r.err
    path = files["out"] / "hrnet3.pt"
    assert path.is_file() and str(path) in r.out
    ref = bs.compile(ROOT / "examples/hrnet3.bspec", seed=3)
    model = bs.load(path)
    state, spec = model.state_dict(), model.spec
    assert spec == ref.spec
    ref_state = ref.state_dict()
    assert state.keys() == ref_state.keys()
    assert all(state[k].equal(ref_state[k]) for k in ref_state)


# -- fmt ---------------------------------------------------------------------------------


def test_fmt_prints_canonical_text(results: dict[str, Run], files) -> None:
    r = results["fmt_print"]
    assert r.code == 0, r.err
    assert r.out == bs.format(files["noncanon"])
    assert "# kept" in r.out


def test_fmt_check_prints_a_diff(results: dict[str, Run], files) -> None:
    r = results["fmt_check"]
    assert r.code == 1
    assert f"--- {files['noncanon']} (as written)" in r.out
    assert "-let C=32" in r.out and "+let C = 32" in r.out
    assert f"{files['noncanon']}: not formatted" in r.err
    assert files["noncanon"].read_text() == NOT_CANONICAL  # --check writes nothing


def test_fmt_write_examples(results: dict[str, Run], files) -> None:
    r = results["fmt_w_examples"]
    assert r.code == 0, r.err
    for ex in EXAMPLES:
        assert (files["fmtdir"] / ex.name).read_text() == bs.format(ex)
    again = run("fmt", "--check", *sorted(files["fmtdir"].iterdir()))
    assert again.code == 0 and again.out == "", again.out + again.err


def test_fmt_write_keeps_a_broken_file_byte_identical(tmp_path: Path) -> None:
    bad = tmp_path / "syntax.bspec"
    bad.write_bytes(SYNTAX_ERROR.encode())
    good = tmp_path / "good.bspec"
    good.write_text(NOT_CANONICAL)
    r = run("fmt", "-w", bad, good)
    assert r.code == 1
    clean(r)
    assert bad.read_bytes() == SYNTAX_ERROR.encode()
    assert re.search(rf"^{re.escape(str(bad))}:\d+:\d+: error:", r.err, re.M), r.err
    assert good.read_text() == bs.format(good)  # the good file is still formatted
    assert sorted(p.name for p in tmp_path.iterdir()) == ["good.bspec", "syntax.bspec"]


# -- graph -------------------------------------------------------------------------------


def dot_edges(dot: str) -> list[tuple[str, str, str]]:
    return re.findall(r'^\s*"([^"]+)" -> "([^"]+)"\s*(\[.*\])?$', dot, re.M)


def visible(attrs: str) -> bool:
    return 'style="invis"' not in attrs


@pytest.mark.parametrize("kind", sorted(GRAPHS))
def test_graph_renders(results: dict[str, Run], files, kind: str) -> None:
    r = results[f"graph_{kind}"]
    assert r.code == 0, r.err
    net = bs.parse(ROOT / "examples" / GRAPHS[kind])
    target = files["out"] / f"{kind}.{GRAPH_SUFFIX[kind]}"
    data = target.read_bytes()
    if target.suffix == ".png":
        assert data.startswith(b"\x89PNG") and len(data) > 10_000
    elif target.suffix == ".svg":
        text = data.decode("utf-8")
        assert text.lstrip().startswith("<?xml") and "<svg" in text
        for node in net.nodes():
            assert f'id="{node.path}"' in text  # every node (or resampler edge) is named
    else:
        assert data.decode("utf-8") == to_dot(net, title=GRAPHS[kind])


def test_graph_without_dot_says_how_to_install(results: dict[str, Run], files) -> None:
    r = results["graph_nodot"]
    assert r.code == 1
    clean(r)
    assert "apt-get install graphviz" in r.err and ".dot" in r.err
    assert not (files["out"] / "nodot.svg").exists()


def test_dot_unet_is_a_u() -> None:
    net = bs.parse(ROOT / "examples/unet_cine.bspec")
    bb = net.backbone
    assert isinstance(bb, ir.UNet)
    dot = to_dot(net)
    edges = {(a, b): attrs for a, b, attrs in dot_edges(dot)}
    for node in net.nodes():
        assert re.search(rf'^\s*"{re.escape(node.path)}" \[', dot, re.M), node.path
    for l, lv in enumerate(bb.levels):
        # one row per level: encoder, gate, decoder side by side in a cluster
        cluster = dot.split(f'subgraph "cluster_level{l}"')[1].split("\n  }")[0]
        assert "rank=same" in cluster
        for path in (lv.enc.path, lv.gate.path, lv.dec.path):
            assert f'"{path}" [' in cluster
        # the skip goes across through the gate; the gate is marked
        assert (lv.enc.path, lv.gate.path) in edges and (lv.gate.path, lv.dec.path) in edges
        assert 'shape="diamond"' in dot.split(f'"{lv.gate.path}" [')[1].split("\n")[0]
        # encoder down, decoder up (drawn against the ranking with dir=back)
        nxt = bb.levels[l + 1].enc.path if l + 1 < len(bb.levels) else bb.bridge.path
        assert (lv.enc.path, lv.down.path) in edges and (lv.down.path, nxt) in edges
        deeper = bb.levels[l + 1].dec.path if l + 1 < len(bb.levels) else bb.bridge.path
        assert 'dir="back"' in edges[(lv.up.path, deeper)]
        assert 'dir="back"' in edges[(lv.dec.path, lv.up.path)]
        # down- and up-sampler of a level share the row between levels
        samplers = dot.split(f"subgraph samplers{l} ")[1].split("\n  }")[0]
        assert f'"{lv.down.path}" [' in samplers and f'"{lv.up.path}" [' in samplers
    assert 'subgraph "cluster_bridge"' in dot
    labels = dot.split(f'"{bb.levels[0].enc.path}" [label=')[1].split("\n")[0]
    assert "T1L1G1" in labels and "C 1→32" in labels and "16×64×64" in labels


def test_dot_hrnet_is_a_grid() -> None:
    net = bs.parse(ROOT / "examples/hrnet3.bspec")
    bb = net.backbone
    assert isinstance(bb, ir.HRNet)
    dot = to_dot(net)
    assert "rankdir=LR" in dot
    edges = dot_edges(dot)
    pairs = {(a, b) for a, b, _ in edges}
    blocks = dict(bb.blocks)
    for (l, s, lf), r in bb.resamplers:  # each resampler is a node on its own path
        assert (blocks[(lf, s - 1)].path, r.path) in pairs
        assert (r.path, blocks[(l, s)].path) in pairs
    for (l, lf), r in bb.fusion:
        assert (blocks[(lf, 2)].path, r.path) in pairs and (r.path, bb.out[l].path) in pairs
    # columns: stage s holds levels 0..s top to bottom, after a header and before placeholders
    columns = re.findall(r"^\s*\{ rank=same; (.*) \[", dot, re.M)
    for s in range(3):
        col = [c.strip('"') for c in next(c for c in columns if "stage " not in c and
               f"level0.stage{s}" in c).split(" -> ")]  # fmt: skip
        assert [c for c in col if not c.startswith("_")] == [
            blocks[(l, s)].path for l in range(s + 1)
        ]
        assert col[0].startswith("_header")
    # rows: visible, straight data edges along each level
    visible_edges = {(a, b) for a, b, attrs in edges if visible(attrs)}
    for l in range(3):
        for s in range(l + 1, 3):
            assert (blocks[(l, s - 1)].path, blocks[(l, s)].path) in visible_edges
        assert (blocks[(l, 2)].path, bb.out[l].path) in visible_edges
        assert (bb.out[l].path, "aggregate") in visible_edges
    assert (blocks[(0, 0)].path, blocks[(0, 2)].path) in visible_edges  # dense sum
    assert ("aggregate", "head") in visible_edges and ("head", "output") in visible_edges


def test_dot_soanet_is_a_column() -> None:
    net = bs.parse(ROOT / "examples/swin_t.bspec")
    bb = net.backbone
    assert isinstance(bb, ir.SOANet)
    dot = to_dot(net)
    assert "rankdir" not in dot  # top to bottom
    chain = ["input", "stem", *(b.path for b in bb.stages), "head", "output"]
    edges = {(a, b): attrs for a, b, attrs in dot_edges(dot)}
    for a, b in zip(chain, chain[1:]):
        assert (a, b) in edges
    for down, stage in zip(bb.down[1:], bb.stages[1:]):
        attrs = edges[(bb.stages[bb.stages.index(stage) - 1].path, stage.path)]
        assert f'id="{down.path}"' in attrs and "↓2 merge" in attrs


def test_dot_escapes_block_strings() -> None:
    spec = (
        "input { channels = 1, D = 1, H = 32, W = 32 }\n"
        'backbone soanet { channels = 16, stages = ["L1(heads=4) G1"] }\n'
    )
    net = bs.parse(spec)
    dot = to_dot(net, title='a "quoted" <title>')
    assert 'digraph "a \\"quoted\\" <title>"' in dot
    assert "a &quot;quoted&quot; &lt;title&gt;" in dot
    assert "L1(heads=4) G1" in dot
    if HAVE_DOT:
        p = subprocess.run(["dot", "-Tsvg"], input=dot, capture_output=True, text=True)
        assert p.returncode == 0, p.stderr
