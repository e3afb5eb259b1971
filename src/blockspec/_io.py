"""`atomic_write`: the one way blockspec writes a file (``bs.save``, ``fmt -w``, ``compile -o``,
``graph -o``).

The rules, in order:

- A symlink is followed: its target is written (atomically) and the link stays a link.
- The target must be a regular file or not exist: a directory, FIFO, socket or device node is
  refused (a `SpecError`), so ``-o /dev/null`` never replaces ``/dev/null``.
- A read-only target (no write permission bit, or not writable by this user) is refused unless
  ``force=True``.
- A target with more than one hard link is refused unless ``force=True``: replacing it would
  cut it off from its other names. With ``force=True`` it is written *in place* (the new bytes
  are complete and on disk in a temporary file first, then copied over the old ones), which
  keeps the links but is not atomic.
- Otherwise the bytes go to a temporary file in the target's folder, are flushed to disk, get
  the target's mode (and owner and group, where permitted) and are renamed over the target:
  the target is either the old file or the complete new one. A new file gets ``0o666`` less
  the umask.
- Temporary files are named ``.NAME.blockspec-tmp-PID-XXXXXXXX``. Each write first removes the
  ones in its folder left by a killed writer: those whose process no longer runs on this
  machine, or older than a day.
"""

from __future__ import annotations

import os
import re
import secrets
import stat
import time
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from .errors import SpecError

__all__ = ["atomic_write", "TMP_MARK"]

TMP_MARK = ".blockspec-tmp-"
_TMP_RE = re.compile(r"^\..*" + re.escape(TMP_MARK) + r"(\d+)-[0-9a-f]{8}$", re.DOTALL)
_STALE_AGE_S = 24 * 3600
_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)

Writer = Callable[[BinaryIO], None]


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: it runs, as another user
        return True
    return True


def _remove_stale(folder: Path) -> None:
    """Remove the temporary files of killed writers in `folder` (errors are ignored)."""
    now = time.time()
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return
    for entry in entries:
        m = _TMP_RE.match(entry.name)
        if m is None:
            continue
        try:
            st = entry.stat(follow_symlinks=False)
            if not stat.S_ISREG(st.st_mode):
                continue
            if _alive(int(m.group(1))) and now - st.st_mtime < _STALE_AGE_S:
                continue
            os.unlink(entry.path)
        except OSError:
            continue


def _tmp_name(target: Path) -> str:
    tail = f"{TMP_MARK}{os.getpid()}-{secrets.token_hex(4)}"
    name = target.name
    while len(os.fsencode(f".{name}{tail}")) > 255:  # keep under NAME_MAX
        name = name[:-1]
    return f".{name}{tail}"


def _chown_like(fd: int, st: os.stat_result) -> None:
    """Give the new file the old one's owner and group where this user may."""
    if (st.st_uid, st.st_gid) == (os.geteuid(), os.getegid()):
        return
    for uid in (st.st_uid, -1):
        try:
            os.fchown(fd, uid, st.st_gid)
            return
        except OSError:
            continue


def _fsync_folder(folder: Path) -> None:
    try:  # make the rename durable; not every platform can open a folder
        dfd = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover
        return
    try:
        os.fsync(dfd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(dfd)


def _check_target(path: Path, target: Path, force: bool, error: type[SpecError]):
    """The target's stat (None when it does not exist), after the refusals."""
    try:
        st = os.stat(target)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise error(f"cannot write {path}: {exc.strerror or exc}") from exc
    for test, kind in _KINDS:
        if test(st.st_mode):
            raise error(
                f"cannot write {path}: it is {kind}, not a regular file",
                hint="write to the path of a regular file (it is created when missing)",
            )
    if not force and (not st.st_mode & 0o222 or not os.access(target, os.W_OK)):
        raise error(
            f"cannot write {path}: the file is read-only",
            hint=f"make it writable first (chmod u+w {path}), or pass force=True",
        )
    if not force and st.st_nlink > 1:
        raise error(
            f"cannot write {path}: it has {st.st_nlink} hard links, and replacing it would cut "
            "it off from the others",
            hint="write to another name, or pass force=True to write it in place (not atomic)",
        )
    return st


def atomic_write(
    path: str | os.PathLike,
    data: bytes | str | Writer,
    *,
    force: bool = False,
    error: type[SpecError] = SpecError,
) -> None:
    """Write `data` (bytes, str as UTF-8, or a function writing to a binary file) to `path`
    by the rules of the module docstring; every failure is an `error` (a `SpecError` class)
    saying ``cannot write PATH: why``. A `SpecError` or `BaseException` raised by the writer
    passes through unchanged, the temporary file removed."""
    path = Path(path)
    target = Path(os.path.realpath(path)) if os.path.islink(path) else path
    st = _check_target(path, target, force, error)
    folder = target.parent
    _remove_stale(folder)
    mode = 0o600 if st is not None else 0o666  # a new file: the umask applies
    tmp = folder / _tmp_name(target)
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    except OSError as exc:
        hint = f"the folder {folder} does not exist" if not folder.is_dir() else None
        raise error(f"cannot write {path}: {exc.strerror or exc}", hint=hint) from exc
    try:
        with os.fdopen(fd, "wb") as f:
            if st is not None:
                _chown_like(f.fileno(), st)
                os.fchmod(f.fileno(), stat.S_IMODE(st.st_mode))
            if callable(data):
                data(f)
            else:
                f.write(data.encode("utf-8") if isinstance(data, str) else data)
            f.flush()
            os.fsync(f.fileno())
        if st is not None and st.st_nlink > 1:
            _copy_in_place(tmp, target)
            os.unlink(tmp)
        else:
            os.replace(tmp, target)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        if isinstance(exc, SpecError) or not isinstance(exc, Exception):
            raise
        oserr = isinstance(exc, OSError) and exc.strerror
        reason = exc.strerror if oserr else _first_line(exc)
        raise error(f"cannot write {path}: {reason}") from exc
    _fsync_folder(folder)


def _copy_in_place(src: Path, target: Path) -> None:
    """Overwrite `target`'s bytes with `src`'s (same inode: links, owner and mode kept)."""
    with open(src, "rb") as fin, open(target, "r+b") as fout:
        while chunk := fin.read(1 << 20):
            fout.write(chunk)
        fout.truncate()
        fout.flush()
        os.fsync(fout.fileno())


def _first_line(exc: BaseException, limit: int = 200) -> str:
    text = str(exc).strip()
    line = text.splitlines()[0] if text else type(exc).__name__
    return line if len(line) <= limit else line[: limit - 3] + "..."
