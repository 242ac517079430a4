"""``games.jsonl``: one finished game per line, appended atomically, read back with file and line in errors.

A record holds at least ``first`` and ``second`` (player names), ``result`` (1 the first player won,
0.5 draw, 0 the second won), ``moves`` (one character per move, as ``lab analyze`` reads them),
``opening``, ``seed`` and ``seconds``; the tournament adds ``id``, ``first_spec``, ``second_spec``,
``opening_index`` and ``plies``.

Appending takes an exclusive lock on the file, writes the whole line with one ``write`` on an
``O_APPEND`` descriptor and fsyncs it, so parallel workers never interleave lines and a ``kill -9``
leaves complete lines only. A power cut could still leave a torn last line without its newline:
:func:`repair_tail` drops it before a tournament resumes.
"""

from __future__ import annotations

import fcntl
import json
import math
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from lab.errors import LabError

__all__ = ["GAMES_FILE", "REQUIRED_KEYS", "GamesFileError", "append_game", "read_games", "read_numbered",
           "repair_tail", "GamesTail"]

GAMES_FILE = "games.jsonl"
REQUIRED_KEYS = ("first", "second", "result", "moves", "opening", "seed", "seconds")


class GamesFileError(LabError, ValueError):
    """A games file that cannot be read, or a line in it that is not a game record."""


def append_game(path: str | os.PathLike, record: dict[str, Any]) -> None:
    """Append ``record`` as one JSON line, atomically with respect to other writers and to ``kill -9``."""
    data = (json.dumps(record, separators=(",", ":")) + "\n").encode("utf-8")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        view = memoryview(data)
        while view:  # a regular file takes it in one write; loop only for the pathological case
            view = view[os.write(fd, view):]
        os.fsync(fd)
    finally:
        os.close(fd)  # also releases the lock


def repair_tail(path: str | os.PathLike) -> bool:
    """Cut a last line that has no newline (a write torn by a crash); returns whether one was cut."""
    path = Path(path)
    if not path.exists():
        return False
    with open(path, "r+b") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        data = f.read()
        if not data or data.endswith(b"\n"):
            return False
        keep = data.rfind(b"\n") + 1
        f.truncate(keep)
        f.flush()
        os.fsync(f.fileno())
    return True


def _check(record: Any, where: str) -> dict[str, Any]:
    if not isinstance(record, dict):
        raise GamesFileError(f"{where}: expected a JSON object (one game), got {type(record).__name__}")
    missing = [k for k in REQUIRED_KEYS if k not in record]
    if missing:
        raise GamesFileError(f"{where}: missing key {missing[0]!r} (a game needs {', '.join(REQUIRED_KEYS)})")
    for key in ("first", "second"):
        if not isinstance(record[key], str) or not record[key]:
            raise GamesFileError(f"{where}: {key}: expected a player name, got {record[key]!r}")
    if record["first"] == record["second"]:
        raise GamesFileError(f"{where}: first and second are the same player {record['first']!r}")
    result = record["result"]
    if isinstance(result, bool) or not isinstance(result, (int, float)) or result not in (0, 0.5, 1):
        raise GamesFileError(f"{where}: result: expected 1 (first won), 0.5 (draw) or 0 (second won), got {result!r}")
    if not isinstance(record["moves"], str):
        raise GamesFileError(f"{where}: moves: expected a string of moves, got {record['moves']!r}")
    seconds = record["seconds"]
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not math.isfinite(seconds):
        raise GamesFileError(f"{where}: seconds: expected a number, got {seconds!r}")
    return record


def read_games(path: str | os.PathLike) -> list[dict[str, Any]]:
    """Every game record in ``path``; blank lines are skipped.

    Raises:
        GamesFileError: the file cannot be read, or a line is not a game (``FILE:LINE: why``).
    """
    return [record for _line, record in read_numbered(path)]


def read_numbered(path: str | os.PathLike) -> list[tuple[int, dict[str, Any]]]:
    """``(line number, record)`` for every game in ``path`` (see :func:`read_games`)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise GamesFileError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise GamesFileError(f"{path}: is a folder; give its {GAMES_FILE}") from None
    except UnicodeDecodeError:
        raise GamesFileError(f"{path}: not a UTF-8 text file") from None
    except OSError as e:
        raise GamesFileError(f"{path}: cannot read it ({e.strerror})") from None
    return list(_parse(text.splitlines(), str(path)))


def _parse(lines: Iterable[str], name: str, start: int = 1) -> Iterable[tuple[int, dict[str, Any]]]:
    for i, line in enumerate(lines, start=start):
        if not line.strip():
            continue
        where = f"{name}:{i}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as e:
            raise GamesFileError(f"{where}: not valid JSON ({e.msg} at column {e.colno})") from None
        yield i, _check(record, where)


class GamesTail:
    """Reads the records appended to a games file since the last call (complete lines only)."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self.offset = 0
        self.line = 0

    def read(self) -> list[dict[str, Any]]:
        try:
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                data = f.read()
        except FileNotFoundError:
            return []
        end = data.rfind(b"\n") + 1
        if end == 0:
            return []
        self.offset += end
        lines = data[:end].decode("utf-8").splitlines()
        first = self.line
        self.line += len(lines)
        return [record for _i, record in _parse(lines, str(self.path), start=first + 1)]
