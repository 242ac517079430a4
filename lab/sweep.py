"""Old import path of :mod:`lab.sweeps`, kept for code written against it; the lab itself imports lab.sweeps."""

from lab.sweeps import SweepOptions, SweepSummary, check_sweep, run_program_trial, run_sweep, run_train_trial

__all__ = ["SweepOptions", "SweepSummary", "run_sweep", "check_sweep", "run_train_trial", "run_program_trial"]
