"""Errors caused by user input (the CLI prints them as one line and exits with code 2), and the one-line warning."""

from __future__ import annotations

import difflib
import sys
from collections.abc import Iterable

__all__ = [
    "LabError",
    "ConfigError",
    "UnknownNameError",
    "MissingDependencyError",
    "RunDirError",
    "closest",
    "unknown_name",
    "warn",
]


class LabError(Exception):
    """Bad input from the user. The message is one readable line; the CLI exits 2 without a traceback."""


class ConfigError(LabError, ValueError):
    """A config file, ``--set`` override or value that does not fit its dataclass field."""


class UnknownNameError(LabError, LookupError):
    """A name that is not registered (agent, environment, generator, key, ...)."""


class MissingDependencyError(LabError, ImportError):
    """An optional dependency is missing; the message names the extra to install."""


class RunDirError(LabError):
    """A run folder that is not a run, already exists, or holds a corrupt checkpoint."""


def closest(name: str, choices: Iterable[str], n: int = 3) -> list[str]:
    """The registered names closest to ``name``, best first (case-insensitive, via difflib)."""
    choices = list(choices)
    lowered = {c.lower(): c for c in choices}
    hits = difflib.get_close_matches(name.lower(), list(lowered), n=n, cutoff=0.6)
    return [lowered[h] for h in hits]


def unknown_name(kind: str, name: str, choices: Iterable[str], *, list_all: bool = True) -> UnknownNameError:
    """Build the standard "unknown X" error: suggestion first, then (when short) the full list.

    >>> str(unknown_name("agent", "ppp", ["ppo", "dqn", "sac"]))
    "unknown agent 'ppp'; did you mean 'ppo'? Available: dqn, ppo, sac"
    """
    choices = sorted(set(choices))
    msg = f"unknown {kind} {name!r}"
    hits = closest(name, choices)
    if hits:
        msg += "; did you mean " + " or ".join(repr(h) for h in hits) + "?"
    if list_all and choices:
        msg += " Available: " + ", ".join(choices)
    return UnknownNameError(msg)


def warn(message: str) -> None:
    """Report a problem that does not stop the work (a plot not drawn, W&B unreachable) as one line on stderr."""
    print(f"warning: {message}", file=sys.stderr, flush=True)
