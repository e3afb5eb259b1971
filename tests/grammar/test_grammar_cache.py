"""The analysed grammar is cached in the user's cache folder between processes; a damaged
or unwritable cache never breaks parsing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

CODE = (
    "import blockspec as bs\n"
    "net = bs.parse('input { channels = 1, D = 1, H = 8, W = 8 }\\n"
    'backbone soanet { channels = 4, stages = ["C2"] }\')\n'
    "print(sum(1 for _ in net.cells()))\n"
)


def _run(env_cache: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "XDG_CACHE_HOME": env_cache, "PYTHONWARNINGS": "ignore"}
    return subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, env=env)


def test_the_grammar_is_cached_and_a_damaged_cache_is_rebuilt(tmp_path: Path):
    r = _run(str(tmp_path))
    assert r.returncode == 0 and r.stdout.strip() == "1", r.stderr
    files = list((tmp_path / "blockspec").glob("grammar-*.lark"))
    assert len(files) == 1 and files[0].stat().st_size > 1000
    files[0].write_bytes(b"not a cache\n" + os.urandom(64))  # damaged
    r = _run(str(tmp_path))
    assert r.returncode == 0 and r.stdout.strip() == "1", r.stderr


def test_an_unusable_cache_folder_is_no_problem(tmp_path: Path):
    blocked = tmp_path / "file"
    blocked.write_text("a file where the cache folder would go")
    r = _run(str(blocked))
    assert r.returncode == 0 and r.stdout.strip() == "1", r.stderr
