"""`atomic_write` and the writers that use it: bs.save, `fmt -w`, `compile -o`, `graph -o`.

Regressions: writes renamed over device nodes and FIFOs, turned symlinks into regular files,
replaced read-only files (resetting their mode), broke hard links, made the writer the owner,
and a killed save left anonymous temporary files that nothing removed.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest

import blockspec as bs
from blockspec import cli
from blockspec._io import TMP_MARK, atomic_write
from blockspec.errors import CheckpointError, SpecError
from tiny_specs import HRNET

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "examples" / "hrnet3.bspec"
MESSY = 'let C=8\ninput{channels=1,D=1,H=32,W=32}\nbackbone soanet{channels=C,stages=["C2"]}\n'


def _names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def _char_device(path: Path) -> Path:
    try:  # a /dev/null of our own: a test must never risk the real one
        os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    except (PermissionError, AttributeError, OSError):
        pytest.skip("creating a device node needs root")
    return path


def _targets(tmp_path: Path) -> dict[str, Path]:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    folder = tmp_path / "folder"
    folder.mkdir()
    return {"FIFO": fifo, "directory": folder}


@pytest.mark.parametrize("kind", ["FIFO", "directory", "character device"])
def test_non_regular_targets_are_refused_and_left_alone(tmp_path: Path, kind: str) -> None:
    targets = _targets(tmp_path)
    target = targets.get(kind) or _char_device(tmp_path / "null")
    before = os.stat(target)
    with pytest.raises(SpecError, match=f"it is a {kind}.*not a regular file"):
        atomic_write(target, b"data")  # a FIFO: refused, not opened (it would block)
    after = os.stat(target)
    assert stat.S_IFMT(after.st_mode) == stat.S_IFMT(before.st_mode)
    assert after.st_ino == before.st_ino
    assert not any(TMP_MARK in n for n in _names(tmp_path))


def test_a_symlink_is_written_through_and_stays_a_link(tmp_path: Path) -> None:
    real = tmp_path / "real" / "m.txt"
    real.parent.mkdir()
    real.write_bytes(b"old")
    os.chmod(real, 0o640)
    link = tmp_path / "link.txt"
    link.symlink_to(real)
    atomic_write(link, "new")
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert real.read_bytes() == b"new" and stat.S_IMODE(real.stat().st_mode) == 0o640
    dangling = tmp_path / "dangling.txt"
    dangling.symlink_to(tmp_path / "real" / "created.txt")
    atomic_write(dangling, b"x")
    assert dangling.is_symlink() and (tmp_path / "real" / "created.txt").read_bytes() == b"x"


def test_the_mode_is_kept_and_a_new_file_follows_the_umask(tmp_path: Path) -> None:
    target = tmp_path / "f"
    target.write_bytes(b"old")
    os.chmod(target, 0o604)
    atomic_write(target, b"new")
    assert stat.S_IMODE(target.stat().st_mode) == 0o604 and target.read_bytes() == b"new"
    umask = os.umask(0o027)
    try:
        atomic_write(tmp_path / "g", b"x")
    finally:
        os.umask(umask)
    assert stat.S_IMODE((tmp_path / "g").stat().st_mode) == 0o640


def test_read_only_targets_are_refused_unless_forced(tmp_path: Path) -> None:
    target = tmp_path / "ro"
    target.write_bytes(b"keep")
    os.chmod(target, 0o444)
    with pytest.raises(SpecError, match="read-only") as e:
        atomic_write(target, b"new")
    assert "chmod u+w" in e.value.hint
    assert target.read_bytes() == b"keep"
    atomic_write(target, b"new", force=True)
    assert target.read_bytes() == b"new" and stat.S_IMODE(target.stat().st_mode) == 0o444


def test_hard_links_are_refused_unless_forced_then_written_in_place(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    a.write_bytes(b"old contents, longer than the new")
    os.link(a, b)
    with pytest.raises(SpecError, match="2 hard links"):
        atomic_write(a, b"new")
    assert b.read_bytes().startswith(b"old")
    atomic_write(a, b"new", force=True)
    assert a.read_bytes() == b.read_bytes() == b"new"
    assert a.stat().st_ino == b.stat().st_ino and a.stat().st_nlink == 2
    assert _names(tmp_path) == ["a", "b"]


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a file away needs root")
def test_the_owner_is_kept(tmp_path: Path) -> None:
    target = tmp_path / "f"
    target.write_bytes(b"old")
    os.chown(target, 12345, 23456)
    atomic_write(target, b"new")
    st = target.stat()
    assert (st.st_uid, st.st_gid) == (12345, 23456)


def test_temporary_files_are_named_recognisably(tmp_path: Path) -> None:
    seen: list[str] = []

    def writer(f) -> None:
        f.write(b"x")
        seen.extend(n for n in _names(tmp_path) if n != "out.pt")

    atomic_write(tmp_path / "out.pt", writer)
    assert len(seen) == 1 and seen[0].startswith(".out.pt" + TMP_MARK + str(os.getpid()) + "-")
    assert _names(tmp_path) == ["out.pt"]


_KILLED_WRITER = """
import os, sys, time
from blockspec._io import atomic_write
def writer(f):
    f.write(b"x" * 1000)
    f.flush()
    print("writing", flush=True)
    time.sleep(60)
atomic_write(sys.argv[1], writer)
"""


def test_a_killed_writer_leaves_a_file_the_next_write_removes(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen(
        [sys.executable, "-c", _KILLED_WRITER, str(tmp_path / "m.pt")],
        stdout=subprocess.PIPE,
        env=env,
        text=True,
    )
    try:
        assert proc.stdout.readline().strip() == "writing"
    finally:
        proc.kill()  # kill -9 in the middle of the write
        proc.wait(timeout=60)
    left = [n for n in _names(tmp_path) if TMP_MARK in n]
    assert len(left) == 1 and left[0].startswith(".m.pt" + TMP_MARK + str(proc.pid))
    live = tmp_path / f".other{TMP_MARK}{os.getpid()}-0123abcd"  # a write in progress
    live.write_bytes(b"")
    atomic_write(tmp_path / "n.pt", b"new")  # another file in the same folder
    assert _names(tmp_path) == sorted([live.name, "n.pt"])


def test_a_failing_writer_leaves_nothing_and_says_why(tmp_path: Path) -> None:
    def broken(f) -> None:
        f.write(b"half")
        raise RuntimeError("disk on fire")

    with pytest.raises(SpecError, match="cannot write .*disk on fire"):
        atomic_write(tmp_path / "x", broken)
    with pytest.raises(SpecError, match="does not exist"):
        atomic_write(tmp_path / "no" / "x", b"")
    assert _names(tmp_path) == []


# ---- bs.save ---------------------------------------------------------------------------------


def test_save_refuses_non_regular_and_read_only_targets(tmp_path: Path) -> None:
    model = bs.compile(HRNET)
    fifo = tmp_path / "fifo.pt"
    os.mkfifo(fifo)
    with pytest.raises(CheckpointError, match="FIFO"):
        bs.save(model, fifo)
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    ro = tmp_path / "ro.pt"
    bs.save(model, ro)
    os.chmod(ro, 0o440)
    before = ro.read_bytes()
    with pytest.raises(CheckpointError, match="read-only"):
        bs.save(bs.compile(HRNET, seed=1), ro)
    assert ro.read_bytes() == before
    bs.save(bs.compile(HRNET, seed=1), ro, force=True)
    assert stat.S_IMODE(ro.stat().st_mode) == 0o440 and bs.load(ro).seed == 1


def test_save_through_a_symlink(tmp_path: Path) -> None:
    real = tmp_path / "runs" / "best-0042.pt"
    real.parent.mkdir()
    link = tmp_path / "best.pt"
    link.symlink_to(real)
    bs.save(bs.compile(HRNET, seed=2), link)
    assert link.is_symlink() and bs.load(real).seed == 2


# ---- the CLI ---------------------------------------------------------------------------------


def test_compile_and_graph_refuse_a_device_node(tmp_path: Path, capsys) -> None:
    null = _char_device(tmp_path / "null")
    assert cli.main(["compile", str(SPEC), "-o", str(null)]) == 1
    assert cli.main(["graph", str(SPEC), "-o", str(tmp_path / "null.dot")]) == 0
    link = tmp_path / "g.dot"
    link.symlink_to(null)
    assert cli.main(["graph", str(SPEC), "-o", str(link)]) == 1
    err = capsys.readouterr().err
    assert err.count("character device, not a regular file") == 2 and "Traceback" not in err
    assert stat.S_ISCHR(os.stat(null).st_mode) and link.is_symlink()


def test_fmt_write_keeps_links_mode_and_refuses_read_only(tmp_path: Path, capsys) -> None:
    real = tmp_path / "real.bspec"
    real.write_text(MESSY)
    os.chmod(real, 0o600)
    link = tmp_path / "link.bspec"
    link.symlink_to(real)
    assert cli.main(["fmt", "-w", str(link)]) == 0
    assert link.is_symlink() and real.read_text() == bs.format(MESSY)
    assert stat.S_IMODE(real.stat().st_mode) == 0o600
    hard = tmp_path / "hard.bspec"
    hard.write_text(MESSY)
    os.link(hard, tmp_path / "other-name.bspec")
    ro = tmp_path / "ro.bspec"
    ro.write_text(MESSY)
    os.chmod(ro, 0o444)
    assert cli.main(["fmt", "-w", str(hard), str(ro)]) == 1
    err = capsys.readouterr().err
    assert "2 hard links" in err and "read-only" in err
    assert hard.read_text() == MESSY and ro.read_text() == MESSY


def test_concurrent_writes_of_one_file_never_mix(tmp_path: Path) -> None:
    target = tmp_path / "t"
    payloads = [bytes([i]) * 200_000 for i in range(4)]
    threads = [threading.Thread(target=atomic_write, args=(target, p)) for p in payloads]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert target.read_bytes() in payloads and _names(tmp_path) == ["t"]
