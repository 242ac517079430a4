"""The sweep folder (``--out``, default ``sweeps/NAME``): its layout, and the lock that keeps one sweep per folder.

    sweep.yaml       the sweep file this folder belongs to
    study.journal    Optuna journal storage: the study's state (resumable)
    results.csv      one row per trial: trial, each parameter, the metric, state, seconds, error
    best.yaml        the best trial's config: ``lab train --config best.yaml`` runs it
    trials.png       the metric per trial, and the best so far
    parallel.png     parallel coordinates: each trial's parameters, coloured by the metric
    events.jsonl     the scheduler's job events
    trials/trial-0003/   each trial's run folder (config.yaml, events.jsonl, wandb/, ...)
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from lab import locks
from lab.errors import LabError

__all__ = ["SweepDir", "trial_name"]


def trial_name(slot: int) -> str:
    """``trial-0003``: the name of a trial's job and run folder."""
    return f"trial-{slot:04d}"


class SweepDir:
    """One sweep's folder."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)

    @property
    def spec_path(self) -> Path:
        return self.path / "sweep.yaml"

    @property
    def study_path(self) -> Path:
        return self.path / "study.journal"

    @property
    def results_path(self) -> Path:
        return self.path / "results.csv"

    @property
    def best_path(self) -> Path:
        return self.path / "best.yaml"

    @property
    def trials_plot_path(self) -> Path:
        return self.path / "trials.png"

    @property
    def parallel_plot_path(self) -> Path:
        return self.path / "parallel.png"

    @property
    def events_path(self) -> Path:
        return self.path / "events.jsonl"

    @property
    def trials_dir(self) -> Path:
        return self.path / "trials"

    def trial_dir(self, name: str) -> Path:
        return self.trials_dir / name

    def __repr__(self) -> str:
        return f"SweepDir({str(self.path)!r})"

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the folder for this process (created if needed); another sweep on it is a LabError."""
        if self.path.exists() and not self.path.is_dir():
            raise LabError(f"--out {self.path}: is a file, not a folder")
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise LabError(f"--out {self.path}: cannot create the sweep folder ({e.strerror})") from None
        from lab import crashlog

        with locks.hold(self.path, "sweep folder"):
            crashlog.log_to(self.path)
            yield
