"""``lab sweep``'s options and the summary a sweep session returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["SweepOptions", "SweepSummary"]


@dataclass
class SweepOptions:
    """``lab sweep`` options."""

    trials: int | None = None
    workers: int = 2
    backend: str = "local"
    address: str | None = None
    out: str | None = None
    engine: str = "optuna"
    retries: int = 1
    timeout: float | None = None
    gpus_per_trial: float = 0.0
    threads: int | None = None
    """Torch threads per trial; default: CPU cores / workers (at least 1)."""
    seed: int = 0
    display: bool = True


@dataclass
class SweepSummary:
    out: Path
    total: int
    states: dict[str, int] = field(default_factory=dict)
    best: dict[str, Any] | None = None
    metric_less: bool = False
    """The sweep has no metric (grid or random): no best trial, results.csv lists what each trial logged."""
    rerun: int = 0
    kept: int = 0
    seconds: float = 0.0
    """Wall-clock seconds of this session."""
    interrupted: str | None = None
    """Why this session stopped before its last trial (``Ctrl-C``, ``SIGTERM``); None when it ran to the end."""
    resume_command: str = ""
    """The command that continues the sweep."""
    inside: list[float] = field(default_factory=list)
    """Seconds each trial of this session spent inside its trial function (benchmarks: overhead = the rest)."""
