"""``lab sweep``: a W&B-format sweep file run locally on Optuna, one scheduler job per trial.

method grid/random/bayes -> Optuna's grid, random and TPE samplers; ``early_terminate: hyperband`` ->
Optuna's Hyperband pruner on the metric as training reports it (each report is one iteration);
``metric.target`` stops the sweep once a trial reaches it; ``run_cap`` caps the trial count.

    spec.py          the W&B sweep format: SweepSpec, Param (sampling), load_spec
    check.py         the file against the lab: config keys of `lab train`, the program
    options.py       SweepOptions, SweepSummary
    run.py           run_sweep: checks, then the engine
    folder.py        SweepDir: the sweep folder's layout and lock
    loop.py          the Optuna loop: ask, run as scheduler jobs, tell
    study.py         everything Optuna: sampler, pruner, slots, interrupted trials, best
    trials.py        one trial on a worker: a `lab train` run or a program (MetricReporter prunes)
    wandb_files.py   metrics read back from a program's W&B files
    outputs.py       results.csv, best.yaml, plots
    plots.py         trials.png and parallel.png
    table.py         the live table
    wandb_engine.py  --engine wandb: W&B's controller with local agents
"""

from lab.sweeps.check import check_sweep
from lab.sweeps.options import SweepOptions, SweepSummary
from lab.sweeps.run import run_sweep
from lab.sweeps.trials import run_program_trial, run_train_trial

__all__ = ["SweepOptions", "SweepSummary", "run_sweep", "check_sweep", "run_train_trial", "run_program_trial"]
