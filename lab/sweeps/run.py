"""``lab sweep``: check the sweep file and the options, then run it on the chosen engine."""

from __future__ import annotations

import os
from pathlib import Path

from lab.errors import LabError, unknown_name
from lab.sweeps.check import check_sweep
from lab.sweeps.folder import SweepDir
from lab.sweeps.options import SweepOptions, SweepSummary

__all__ = ["run_sweep"]


def run_sweep(path: str | os.PathLike, opts: SweepOptions) -> SweepSummary:
    """Run (or continue) the sweep in ``path``; see :mod:`lab.sweeps.folder` for the folder it writes."""
    spec = check_sweep(path)
    for flag, value in (("--trials", opts.trials), ("--workers", opts.workers), ("--timeout", opts.timeout)):
        if value is not None and value <= 0:
            raise LabError(f"{flag}: expected a positive number, got {value}")
    if opts.retries < 0:
        raise LabError(f"--retries: expected 0 or a positive number, got {opts.retries}")
    if opts.gpus_per_trial < 0:
        raise LabError(f"--gpus-per-trial: expected 0 or a positive share of a GPU (0.5, 1, 2), got {opts.gpus_per_trial}")
    if opts.workers > 1024:
        raise LabError(f"--workers: expected at most 1024 trials at once, got {opts.workers:,}")
    if opts.engine == "wandb":
        from lab.sweeps.wandb_engine import run_wandb_engine

        return run_wandb_engine(spec, opts)
    if opts.engine != "optuna":
        raise unknown_name("engine", opts.engine, ["optuna", "wandb"])
    total = opts.trials or spec.run_cap or (spec.grid_size() if spec.method == "grid" else None)
    if total is None:
        raise LabError(f"{path}: how many trials? give --trials N (or run_cap in the file) for a {spec.method} sweep")
    if spec.run_cap:
        total = min(total, spec.run_cap)
    if spec.method == "grid":
        total = min(total, spec.grid_size())
    folder = SweepDir(opts.out or Path("sweeps") / spec.name)
    from lab.sweeps.loop import run_optuna

    with folder.lock():
        return run_optuna(spec, Path(path), folder, total, opts)
