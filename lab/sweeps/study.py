"""The Optuna study behind a sweep: sampler, pruner, trial slots, interrupted trials, results.

Everything that touches Optuna is here (the one use of its private API included), so the loop
reads as the sweep's logic.
"""

from __future__ import annotations

import itertools
import os
from typing import Any

from lab.scheduler import JobOutcome
from lab.sweeps.folder import trial_name
from lab.sweeps.spec import SweepSpec

__all__ = [
    "STATE", "open_study", "open_trial", "make_pruner", "pruner_spec", "trial_id", "slot", "counted",
    "requeue", "requeue_interrupted", "next_grid_point", "tell", "best_trial",
]

STATE = {"COMPLETE": "complete", "PRUNED": "pruned", "FAIL": "failed", "RUNNING": "running", "WAITING": "waiting"}
"""Optuna trial states as ``results.csv`` spells them."""


def open_study(spec: SweepSpec, storage_path: str | os.PathLike, seed: int) -> Any:
    """Create (or load) the sweep's study in its journal file, sampling with ``seed``."""
    import optuna
    from optuna.storages.journal import JournalFileBackend, JournalStorage

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = JournalStorage(JournalFileBackend(str(storage_path)))
    direction = "maximize" if spec.goal == "maximize" else "minimize"
    if spec.method in ("grid", "random"):  # grid: each combination is enqueued in turn (next_grid_point)
        sampler = optuna.samplers.RandomSampler(seed=seed)
    else:
        sampler: Any = optuna.samplers.TPESampler(seed=seed, n_startup_trials=min(10, max(2, len(spec.params) + 1)))
    pruner = make_pruner(pruner_spec(spec))
    study = optuna.create_study(study_name=spec.name, storage=storage, direction=direction, sampler=sampler,
                                pruner=pruner, load_if_exists=True)
    return study


def pruner_spec(spec: SweepSpec) -> dict | None:
    """The sweep's hyperband settings as plain values (they travel to trial workers), or None."""
    et = spec.early_terminate
    return None if et is None else {"min_iter": et.min_iter, "max_iter": et.max_iter, "eta": et.eta}


def open_trial(storage_path: str | None, study_name: str, trial_id: int | None, pruner_spec: dict | None) -> Any:
    """On a worker: the study's trial ``trial_id``, to report intermediate values to (None without pruning)."""
    if storage_path is None or trial_id is None or pruner_spec is None:
        return None
    import optuna
    from optuna.storages.journal import JournalFileBackend, JournalStorage

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = JournalStorage(JournalFileBackend(storage_path))
    study = optuna.load_study(study_name=study_name, storage=storage, sampler=optuna.samplers.RandomSampler(),
                              pruner=make_pruner(pruner_spec))
    return optuna.trial.Trial(study, trial_id)


def make_pruner(p: dict | None) -> Any:
    """Optuna's Hyperband pruner for :func:`pruner_spec` settings (a no-op pruner for None)."""
    import optuna

    if not p:
        return optuna.pruners.NopPruner()
    return optuna.pruners.HyperbandPruner(
        min_resource=p["min_iter"], max_resource=p.get("max_iter") or "auto", reduction_factor=max(2, round(p["eta"]))
    )


def trial_id(trial: Any) -> int:
    """The storage id of a trial (live or frozen); Optuna keeps it private, and the workers need it."""
    return int(trial._trial_id)


def slot(t: Any) -> int:
    """The trial's slot: its number in ``results.csv`` and its folder name (a rerun keeps the slot)."""
    return int(t.user_attrs.get("slot", t.number))


def counted(t: Any) -> bool:
    """Whether a trial counts towards the total: ended, and not interrupted (an interrupted one is rerun)."""
    name = t.state.name
    return name in ("COMPLETE", "PRUNED") or (name == "FAIL" and not t.user_attrs.get("interrupted"))


def requeue(study: Any, trial: Any) -> None:
    """Mark a trial that did not end (a killed or stopped sweep) interrupted and queue it again: same parameters,
    same slot."""
    import optuna

    # Optuna has no public way to annotate a trial this process did not hand out (a killed sweep's).
    study._storage.set_trial_user_attr(trial_id(trial), "interrupted", True)
    study.tell(trial.number, state=optuna.trial.TrialState.FAIL)
    study.enqueue_trial(trial.params, user_attrs={"slot": slot(trial), "rerun_of": trial.number})


def requeue_interrupted(study: Any) -> None:
    """Requeue every trial a killed sweep left running."""
    for t in study.get_trials(deepcopy=False):
        if t.state.name == "RUNNING":
            requeue(study, t)


def next_grid_point(spec: SweepSpec, study: Any) -> None:
    """Enqueue the first grid combination no trial has taken (unless one is already waiting)."""
    trials = study.get_trials(deepcopy=False)
    if any(t.state.name == "WAITING" for t in trials):
        return
    names = [p.path for p in spec.params if not p.fixed]
    taken = {tuple(repr(t.params.get(n)) for n in names) for t in trials
             if counted(t) or t.state.name == "RUNNING"}
    for combo in itertools.product(*(p.values for p in spec.params if not p.fixed)):
        if tuple(repr(v) for v in combo) not in taken:
            study.enqueue_trial(dict(zip(names, combo)))
            return


def tell(study: Any, trial: Any, outcome: JobOutcome) -> tuple[Any, str, str]:
    """Record a trial's job outcome in the study; returns ``(value, state, error)``."""
    import optuna

    trial.set_user_attr("seconds", round(outcome.wall, 3))
    trial.set_user_attr("attempts", outcome.attempts)
    if not outcome.ok:
        trial.set_user_attr("error", outcome.error)
        study.tell(trial, state=optuna.trial.TrialState.FAIL)
        return None, "failed", outcome.error
    result = outcome.result
    if result["state"] == "pruned":
        trial.set_user_attr("pruned_at", result.get("iteration"))
        study.tell(trial, state=optuna.trial.TrialState.PRUNED)
        value = result.get("value")
        return value, "pruned", ""
    if result["value"] is None:  # a sweep without a metric: the trial's logged summary is its result
        trial.set_user_attr("summary", result.get("summary", {}))
        study.tell(trial, 0.0)  # grid and random sampling never read it; best_trial is not asked
        return None, "complete", ""
    study.tell(trial, result["value"])
    return result["value"], "complete", ""


def best_trial(study: Any) -> tuple[str, float] | None:
    """``(trial name, value)`` of the best complete trial, or None."""
    done = [t for t in study.get_trials(deepcopy=False) if t.state.name == "COMPLETE" and t.value is not None]
    if not done:
        return None
    pick = max if study.direction.name == "MAXIMIZE" else min
    t = pick(done, key=lambda t: t.value)
    return trial_name(slot(t)), float(t.value)
