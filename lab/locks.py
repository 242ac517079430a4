"""One writer per folder: an exclusive ``fcntl`` lock on ``FOLDER/.lock``, held while a command writes there.

The operating system releases the lock when the process ends, however it ends (``kill -9`` included), so
a lock is never stale; the file itself stays and only says which process held it last. Readers (``lab
plot``, the reading part of ``lab eval``) never take it and never wait.

>>> import tempfile
>>> folder = tempfile.mkdtemp()
>>> with hold(folder, "run folder"):
...     holder(folder) == os.getpid()
True
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from lab.errors import LabError

__all__ = ["LOCK_NAME", "FolderBusy", "hold", "try_hold", "holder", "refuse_if_held"]

LOCK_NAME = ".lock"
"""The lock file's name inside the folder it guards."""


class FolderBusy(LabError):
    """Another process holds the folder's lock."""

    def __init__(self, message: str, pid: int | None) -> None:
        super().__init__(message)
        self.pid = pid


def holder(folder: str | os.PathLike) -> int | None:
    """The pid written in ``folder``'s lock file (the last process that held it), or None."""
    try:
        text = (Path(folder) / LOCK_NAME).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return int(text) if text.isdigit() else None


def _busy(folder: Path, what: str) -> FolderBusy:
    pid = holder(folder)
    who = f"process {pid}" if pid else "another process"
    return FolderBusy(
        f"{folder}: the {what} is in use by {who} (another lab command writing to it); "
        "wait for it to end or stop it, then run this again",
        pid,
    )


def refuse_if_held(folder: str | os.PathLike, what: str = "folder") -> None:
    """Raise :class:`FolderBusy` if a process holds ``folder``'s lock now; creates nothing, takes nothing."""
    try:
        f = open(Path(folder) / LOCK_NAME, encoding="utf-8")  # noqa: SIM115
    except OSError:
        return  # no lock file: nobody holds it
    with f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise _busy(Path(folder), what) from None
        fcntl.flock(f, fcntl.LOCK_UN)


def _acquire(folder: Path, what: str) -> IO[str]:
    try:
        f = open(folder / LOCK_NAME, "a+", encoding="utf-8")  # noqa: SIM115 (held open while locked)
    except OSError as e:
        raise LabError(f"{folder}: cannot write the {what} ({e.strerror})") from None
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        f.close()
        raise _busy(folder, what) from None
    f.seek(0)
    f.truncate()
    f.write(f"{os.getpid()}\n")
    f.flush()
    return f


@contextlib.contextmanager
def hold(folder: str | os.PathLike, what: str = "folder") -> Iterator[None]:
    """Hold ``folder`` (which must exist) for this process; another holder is a :class:`FolderBusy` error.

    Args:
        folder: the folder to guard.
        what: how messages name it (``run folder``, ``sweep folder``).
    """
    f = _acquire(Path(folder), what)
    try:
        yield
    finally:
        f.close()  # closing the descriptor releases the lock


@contextlib.contextmanager
def try_hold(folder: str | os.PathLike, what: str = "folder") -> Iterator[LabError | None]:
    """Like :func:`hold`, but yields the error (busy, or a read-only folder) instead of raising it."""
    try:
        f = _acquire(Path(folder), what)
    except LabError as e:
        yield e
        return
    try:
        yield None
    finally:
        f.close()
