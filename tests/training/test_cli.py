"""`blockspec train` through `run` (as the CLI wires it) and under torchrun."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import blockspec as bs
from blockspec.training.cli import build_parser, main, run

from .specs import CLASSIFY

SPEC = """\
let C = 8
input { channels = 1, D = 1, H = 16, W = 16 }
cell { window = [4, 4, 1], patch = [2, 2, 1], heads = 2, dropout = 0.0 }
backbone unet { channels = C, levels = 2, blocks = ["C2", "L1"], bridge = "G1" }
head conv { out_channels = 1 }
"""


@pytest.fixture
def spec(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.bspec"
    path.write_text(SPEC)
    return path


def _run(*argv: str) -> int:
    return run(build_parser().parse_args([str(a) for a in argv]))


def test_train_writes_a_checkpoint_with_the_overrides(spec: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "run"
    code = _run(spec, "--steps", "4", "--batch", "2", "--out", out, "--set", "C=4")
    assert code == 0
    stdout = capsys.readouterr().out
    assert "step 4" in stdout and "PSNR" in stdout and "dB (noisy input)" in stdout
    model = bs.load(out / "last.pt")
    assert "let C = 4" in model.spec
    assert model.level0.enc.cell0.core.conv.out_channels == 4
    assert (out / "metrics.jsonl").read_text().count("\n") >= 1


def test_resume_continues_from_the_saved_step(spec: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "run"
    assert _run(spec, "--steps", "4", "--until", "2", "--out", out) == 0
    assert "step 2" in capsys.readouterr().out
    assert _run(spec, "--steps", "4", "--out", out, "--resume", out) == 0
    assert "step 4" in capsys.readouterr().out
    assert bs.checkpoint.load_training(out / "last.pt").step == 4


def test_errors_exit_1_with_the_fix(spec: Path, tmp_path: Path, capsys) -> None:
    cls = tmp_path / "cls.bspec"
    cls.write_text(CLASSIFY)
    assert _run(cls, "--task", "denoise", "--steps", "1") == 1
    err = capsys.readouterr().err
    assert "task denoise needs" in err and "head conv { out_channels = 1 }" in err
    assert _run(tmp_path / "missing.bspec", "--steps", "1") == 1
    assert "no such spec file" in capsys.readouterr().err
    assert _run(spec, "--steps", "1", "--set", "X=3") == 1
    assert "unknown let" in capsys.readouterr().err
    assert _run(spec, "--steps", "2", "--resume", tmp_path / "nothing.pt") == 1
    assert "no such checkpoint" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["--steps", "0"], ["--set", "C"], ["--size", "16x16"]])
def test_usage_errors_exit_2(spec: Path, argv: list[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main([str(spec), *argv])
    assert info.value.code == 2


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_torchrun_two_processes(spec: Path, tmp_path: Path) -> None:
    """The documented launch: ``torchrun --nproc-per-node 2 -m blockspec.training.cli``."""
    src = Path(__file__).parents[2] / "src"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    env["PYTHONPATH"] = os.pathsep.join([str(src), env.get("PYTHONPATH", "")])
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node",
           "2", "-m", "blockspec.training.cli", str(spec), "--steps", "3", "--batch", "2",
           "--out", str(out), "--device", "cpu"]  # fmt: skip
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=540)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.count("step 3") == 1  # rank 0 alone reports
    st = bs.checkpoint.load_training(out / "last.pt")
    assert st.step == 3 and st.extra["world"] == 2
