"""The last line of defence of every ``lab`` command: an unexpected exception becomes one line, not a traceback.

The traceback goes to a log file: ``crash.log`` in the folder the command was writing (a run or sweep
folder, set with :func:`log_to`), else a new temporary file; the line on stderr gives its path. With
``LAB_DEBUG=1`` the traceback is printed too. Bad input (:class:`lab.errors.LabError`) never gets here: the
commands print it themselves.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import os
import shlex
import sys
import tempfile
import traceback
from collections.abc import Iterator
from pathlib import Path

__all__ = ["EXIT_CODE", "log_to", "guard", "write_log", "one_line"]

EXIT_CODE = 2
"""The exit code of a command that failed on an unexpected error (the same as bad input: one line, code 2)."""

_folder: Path | None = None


def log_to(folder: str | os.PathLike | None) -> None:
    """Put a crash of this command into ``folder/crash.log`` (None: a temporary file)."""
    global _folder
    _folder = None if folder is None else Path(folder)


def one_line(e: BaseException) -> str:
    """``ValueError: the first line of its message`` (at most 300 characters)."""
    text = str(e).strip().splitlines()
    first = text[0] if text else ""
    return f"{type(e).__name__}: {first[:300]}" if first else type(e).__name__


def write_log(e: BaseException, argv: list[str]) -> Path | None:
    """Write the traceback of ``e`` and the command line; returns the file, or None if nothing could be written."""
    text = (
        f"{_dt.datetime.now().isoformat(timespec='seconds')}  pid {os.getpid()}\n"
        f"command: {shlex.join(argv)}\n\n"
        + "".join(traceback.format_exception(e))
    )
    if _folder is not None and _folder.is_dir():
        path = _folder / "crash.log"
        try:
            with open(path, "a", encoding="utf-8", errors="backslashreplace") as f:
                f.write(text + "\n")
            return path
        except OSError:
            pass
    try:
        fd, name = tempfile.mkstemp(prefix="lab-crash-", suffix=".log")
        with os.fdopen(fd, "w", encoding="utf-8", errors="backslashreplace") as f:
            f.write(text)
        return Path(name)
    except OSError:
        return None


@contextlib.contextmanager
def guard(argv: list[str] | None = None) -> Iterator[None]:
    """Run a command: an exception that escapes it prints one line (and the log's path) and exits with 2.

    Output streams are set to escape what they cannot encode: a non-UTF-8 argument echoed back in a
    message (click's usage errors do) must not turn into an encoding error.
    """
    log_to(None)  # a folder of an earlier command in this process is not this one's
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            with contextlib.suppress(ValueError, OSError, TypeError):
                reconfigure(errors="backslashreplace")
    try:
        yield
    except (SystemExit, KeyboardInterrupt, GeneratorExit):
        raise
    except BaseException as e:  # noqa: BLE001 - the point of this handler: nothing escapes as a traceback
        argv = list(sys.argv if argv is None else argv)
        log = write_log(e, argv)
        where = f"; the traceback is in {log}" if log else ""
        debug = os.environ.get("LAB_DEBUG", "") not in ("", "0")
        if debug:
            traceback.print_exception(e, file=sys.stderr)
        hint = "" if debug else " (LAB_DEBUG=1 prints it here)"
        _print(f"error: unexpected {one_line(e)}{where}{hint if log else ''}")
        raise SystemExit(EXIT_CODE) from None


def _print(line: str) -> None:
    stream = sys.stderr
    try:
        print(line, file=stream, flush=True)
    except (UnicodeEncodeError, ValueError, OSError):
        with contextlib.suppress(OSError, ValueError):
            stream.buffer.write(line.encode("utf-8", "backslashreplace") + b"\n")  # type: ignore[attr-defined]
            stream.flush()
