"""The packaged specs: listed, built by name with their lets, usable as @NAME everywhere."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import blockspec as bs
from blockspec.errors import SpecValueError

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted(p.stem for p in (ROOT / "examples").glob("*.bspec"))


def test_the_package_ships_every_example():
    assert bs.list_specs() == EXAMPLES
    for name in EXAMPLES:
        assert bs.parse(f"@{name}") == bs.parse(ROOT / "examples" / f"{name}.bspec")


def test_every_packaged_spec_exposes_its_natural_lets():
    from blockspec.registry import lets_of

    for name in EXAMPLES:
        assert "CHANNELS" in lets_of(name), name  # in-channels, always
    for name in ("swin_t", "vit_b16", "vit3d", "hrnet3"):
        assert {"CLASSES", "SIZE"} <= set(lets_of(name)), name


def test_create_sets_lets_by_keyword():
    model = bs.create("unet_small", channels=2, size=64, c=4)
    assert model.ir.input.channels == 2 and model.ir.input.size == (1, 64, 64)
    assert model.ir.head.config.n == 2  # a denoiser outputs its input's channels
    assert model.ir.backbone.channels[0] == 4
    assert bs.parse(model.spec) == model.ir  # the canonical text carries the lets
    x = bs.example_input(model)
    assert model.eval()(x).shape == x.shape


def test_create_refuses_an_unknown_let_naming_the_known_ones():
    with pytest.raises(SpecValueError) as info:
        bs.create("swin_t", clases=10)
    assert "CLASES" in info.value.message and "classes (1000)" in info.value.hint


def test_an_unknown_packaged_name_suggests_one():
    with pytest.raises(SpecValueError) as info:
        bs.parse("@swin")
    assert "swin_t" in info.value.hint


def _cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    return subprocess.run([sys.executable, "-m", "blockspec", *args], capture_output=True,
                          text=True, env=env, cwd="/")  # fmt: skip


def test_the_cli_takes_packaged_names_anywhere_a_file_goes():
    r = _cli("list")
    assert r.returncode == 0, r.stderr
    for name in EXAMPLES:
        assert f"@{name}" in r.stdout
    # the lets as --set takes them, with their values
    row = next(line for line in r.stdout.splitlines() if line.startswith("@swin_t "))
    assert "CHANNELS=3, SIZE=224, C=96, CLASSES=1000" in row
    r = _cli("check", "@unet_small", "--set", "CHANNELS=3")
    assert r.returncode == 0 and "@unet_small: ok" in r.stdout, r.stderr
    r = _cli("summary", "@hrnet3", "--set", "CLASSES=7")
    assert r.returncode == 0 and "[7, 1, 64, 64]" in r.stdout, r.stderr
    assert _cli("fmt", "@unet_small").stdout == bs.format("@unet_small")
    r = _cli("fmt", "-w", "@unet_small")
    assert r.returncode == 2 and "packaged" in r.stderr


def test_bench_and_train_take_packaged_names(tmp_path: Path):
    r = _cli("bench", "@unet_small", "--repeats", "1", "--warmup", "0")
    assert r.returncode == 0 and "@unet_small" in r.stdout, r.stderr
    r = _cli("train", "@unet_small", "--steps", "2", "--eval-every", "2", "--out", str(tmp_path))
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "last.pt").exists()


def test_every_packaged_let_says_what_it_is():
    for name in EXAMPLES:
        for line in bs.registry.spec_text(name).splitlines():
            if line.startswith("let "):
                assert "  # " in line, f"@{name}: {line!r} has no comment"
