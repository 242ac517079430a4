"""Paths and names given by the user, checked before anything is written: one readable line instead of an OSError.

>>> folder_name("name", "ppo-cartpole")
'ppo-cartpole'
>>> folder_name("name", "../../escape")
Traceback (most recent call last):
...
lab.errors.LabError: name: '../../escape' cannot be a folder name (no '/', no '..', not absolute); use letters, digits, '-', '_' or '.'
"""

from __future__ import annotations

import os
from pathlib import Path

from lab.errors import LabError

__all__ = ["folder_name", "user_path", "writable_path"]

_NAME_MAX = 255
"""The longest file or folder name (one path component) on Linux and macOS file systems."""


def folder_name(what: str, name: str) -> str:
    """``name`` if it can be one folder's name (inside another folder), else a LabError naming ``what``."""
    text = str(name)
    bad = (
        not text.strip() or text in (".", "..") or "/" in text or "\\" in text or "\0" in text
        or os.path.isabs(text) or ".." in text.split(os.sep)
    )
    if bad:
        raise LabError(
            f"{what}: {text[:80]!r} cannot be a folder name (no '/', no '..', not absolute); "
            "use letters, digits, '-', '_' or '.'"
        )
    if len(text.encode("utf-8", "surrogateescape")) > _NAME_MAX:
        raise LabError(f"{what}: the name is {len(text)} characters long; a folder name holds at most {_NAME_MAX}")
    return text


def user_path(what: str, path: str | os.PathLike | None) -> Path:
    """A path the user gave (``--run-dir``, ``lab eval RUN``): not empty, no NUL, each component not too long."""
    text = "" if path is None else os.fspath(path)
    if not str(text).strip():
        raise LabError(f"{what}: the path is empty; give one (. means the current folder)")
    if "\0" in str(text):
        raise LabError(f"{what}: the path contains a NUL character")
    for part in Path(text).parts:
        if len(os.fsencode(part)) > _NAME_MAX:
            raise LabError(
                f"{what}: a component of the path is {len(part)} characters long ({part[:24]}...); "
                f"a file or folder name holds at most {_NAME_MAX}"
            )
    return Path(text)


def writable_path(what: str, path: str | os.PathLike) -> Path:
    """:func:`user_path`, and its folder must be creatable (``/proc/...`` is not)."""
    p = user_path(what, path)
    try:
        resolved = p.resolve()
    except (OSError, RuntimeError) as e:
        raise LabError(f"{what} {p}: cannot use this path ({e})") from None
    if resolved == Path("/proc") or Path("/proc") in resolved.parents or Path("/sys") in resolved.parents:
        raise LabError(f"{what} {p}: cannot write under {resolved.parts[1] and '/' + resolved.parts[1]} (a kernel file system)")
    return p
