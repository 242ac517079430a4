"""Numbers given by the user, checked against what a run can represent: finite, in range, affordable.

>>> finite("--minutes", 3.0)
3.0
>>> finite("--minutes", float("nan"))
Traceback (most recent call last):
...
lab.errors.LabError: --minutes: expected a finite number, got nan
>>> check_seed("--seed", 2**32)
Traceback (most recent call last):
...
lab.errors.LabError: --seed: expected 0 <= seed <= 4294967295 (what numpy and gymnasium accept), got 4294967296
"""

from __future__ import annotations

import math
import os

from lab.errors import LabError

__all__ = [
    "INT64_MAX", "SEED_MAX", "finite", "positive", "check_int", "check_seed", "check_options", "available_memory", "gib",
]

INT64_MAX = 2**63 - 1
"""Step counters are int64 in torch and numpy: a budget past this cannot be counted."""
SEED_MAX = 2**32 - 1
"""numpy's ``seed`` and gymnasium's ``reset(seed=)`` accept 0 .. 2**32 - 1."""


def finite(what: str, value: float) -> float:
    """``value`` unless it is nan or infinite (which pass a ``> 0`` check and would run forever)."""
    if isinstance(value, float) and not math.isfinite(value):
        raise LabError(f"{what}: expected a finite number, got {value}")
    return value


def positive(what: str, value: float) -> float:
    """A finite number above 0."""
    finite(what, value)
    if not value > 0:
        raise LabError(f"{what}: expected a positive number, got {value}")
    return value


def check_int(what: str, value: int, *, low: int = 0, high: int = INT64_MAX) -> int:
    """An integer in ``[low, high]`` (default: what an int64 counter holds)."""
    if not low <= value <= high:
        shown = str(value) if len(str(value)) < 40 else f"a {len(str(value))}-digit number"
        if value > high:
            why = " (what an int64 counter holds)" if high == INT64_MAX else ""
            raise LabError(f"{what}: expected at most {high:,}{why}, got {shown}")
        raise LabError(f"{what}: expected at least {low:,}, got {shown}")
    return value


def check_seed(what: str, seed: int) -> int:
    """A seed every library of the lab accepts."""
    if not 0 <= seed <= SEED_MAX:
        shown = str(seed) if len(str(seed)) < 40 else f"a {len(str(seed))}-digit number"
        raise LabError(f"{what}: expected 0 <= seed <= {SEED_MAX} (what numpy and gymnasium accept), got {shown}")
    return seed


def check_options(**options: float | int | None) -> None:
    """A command's numeric options (``--n-envs`` given as ``n_envs=``): floats finite, integers within an int64
    counter, ``seed`` within what numpy accepts; None (not given) is skipped.

    >>> check_options(steps=10, minutes=None, seed=0)
    >>> check_options(timeout=float("inf"))
    Traceback (most recent call last):
    ...
    lab.errors.LabError: --timeout: expected a finite number, got inf
    """
    for name, value in options.items():
        if value is None:
            continue
        flag = "--" + name.replace("_", "-")
        if name == "seed":
            check_seed(flag, value)
        elif isinstance(value, float):
            finite(flag, value)
        else:
            check_int(flag, value, low=-(2**63), high=INT64_MAX)


def available_memory() -> int | None:
    """Bytes of memory available to new allocations (Linux ``MemAvailable``), or None where unknown."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def gib(n: float) -> str:
    """``12.3 GiB``."""
    return f"{n / 2**30:.1f} GiB"
