"""The Optuna loop of ``lab sweep``: ask the study for trials, run each as a scheduler job, tell it the outcome.

Run the same command again after a crash or ``kill -9``: finished trials are kept, interrupted ones
are rerun with the same parameters, and the total is what was asked.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from lab import atomic
from lab.errors import LabError, warn
from lab.eventlog import EventLog
from lab.events import EventBus
from lab.registry import AGENTS
from lab.scheduler import Job, JobOutcome, JobStarted, Scheduler, make_backend
from lab.sweeps.check import candidates, program_path
from lab.sweeps.folder import SweepDir, trial_name
from lab.sweeps.options import SweepOptions, SweepSummary
from lab.sweeps.outputs import write_outputs
from lab.sweeps.spec import SweepSpec
from lab.sweeps.study import (
    STATE,
    best_trial,
    counted,
    next_grid_point,
    open_study,
    pruner_spec,
    requeue,
    requeue_interrupted,
    slot,
    tell,
    trial_id,
)
from lab.sweeps.table import SweepTable
from lab.sweeps.trials import worker_env

__all__ = ["run_optuna"]

_PLOT_EVERY = 30.0
"""Seconds between redraws of the plots while trials run (they take ~0.5 s of CPU the trials could use)."""


def _claim_folder(spec: SweepSpec, sweep_file: Path, folder: SweepDir) -> None:
    """Keep the sweep file in the folder; a folder that holds another sweep is refused."""
    import yaml

    saved = folder.spec_path
    if saved.exists():
        try:
            previous = yaml.safe_load(saved.read_text(encoding="utf-8"))
        except yaml.YAMLError:
            previous = None
        if previous != spec.raw:
            raise LabError(f"--out {folder.path} holds a different sweep ({saved}); use another --out or remove the folder")
    else:
        atomic.write_text(saved, sweep_file.read_text(encoding="utf-8"))


def _session_study(spec: SweepSpec, folder: SweepDir, seed: int) -> Any:
    # A new seed per session: a resumed random sweep must not draw the same points again.
    pre = open_study(spec, folder.study_path, seed)
    return open_study(spec, folder.study_path, seed + len(pre.trials)) if pre.trials else pre


class _TrialJobs:
    """Turns the study's next trial into a scheduler job (``lab train`` trials or a program's)."""

    def __init__(self, spec: SweepSpec, sweep_file: Path, folder: SweepDir, opts: SweepOptions, taken: set[int]) -> None:
        self.spec, self.folder, self.opts = spec, folder, opts
        self.is_train = spec.program is None
        self.program = None if self.is_train else str(program_path(spec, sweep_file))
        self.env = worker_env()
        self.threads = opts.threads or max(1, (os.cpu_count() or 1) // max(1, opts.workers))
        self.storage = str(folder.study_path.resolve())
        self._free = (s for s in range(10**9) if s not in taken)

    def preload(self) -> list[str]:
        """Modules the worker processes import once, before any trial."""
        modules = ["lab.sweeps.trials", "lab.training", "optuna"]
        if self.is_train:
            modules += [AGENTS.get(str(algo)).target.partition(":")[0] for algo in candidates(self.spec, "algo")]
        return modules

    def next(self, study: Any) -> tuple[Job, dict[str, Any], Any]:
        """Ask the study for a trial (waiting reruns first); returns its job, parameters and trial."""
        if self.spec.method == "grid":
            next_grid_point(self.spec, study)
        trial = study.ask()
        if "slot" not in trial.user_attrs:
            trial.set_user_attr("slot", next(self._free))
        params = {p.path: p.sample(trial) for p in self.spec.params}
        trial.set_user_attr("params", params)
        name = trial_name(slot(trial))
        kwargs: dict[str, Any] = dict(
            run_dir=str(self.folder.trial_dir(name).resolve()), params=params, metric=self.spec.metric,
            sweep=self.spec.name, project=self.spec.project, storage=self.storage, study=self.spec.name,
            trial_id=trial_id(trial), pruner=pruner_spec(self.spec),
        )
        if self.is_train:
            kwargs.update(entity=self.spec.entity, threads=self.threads)
            target = "lab.sweeps.trials:run_train_trial"
        else:
            kwargs.update(program=self.program, command=self.spec.command)
            target = "lab.sweeps.trials:run_program_trial"
        return Job(name, target, kwargs, env=self.env, cpus=1, gpus=self.opts.gpus_per_trial), params, trial


class _Loop:
    """Keeps the workers busy until ``to_start`` trials have started (or the target is hit) and all have ended."""

    def __init__(self, spec: SweepSpec, study: Any, folder: SweepDir, jobs: _TrialJobs, table: SweepTable,
                 sched: Scheduler, to_start: int, summary: SweepSummary) -> None:
        self.spec, self.study, self.folder, self.jobs, self.table, self.sched = spec, study, folder, jobs, table, sched
        self.to_start = to_start
        self.summary = summary
        self.in_flight: dict[str, tuple[dict, Any]] = {}
        self.target_hit = False
        self.stop_reason: str | None = None
        """Set by Ctrl-C or SIGTERM: start no more trials; the running ones are rerun next session."""
        self.last_plot = time.monotonic()

    def fill(self) -> None:
        while self.to_start > 0 and self.sched.free > 0 and not self.target_hit and self.stop_reason is None:
            job, params, trial = self.jobs.next(self.study)
            self.in_flight[job.name] = (params, trial)
            self.sched.submit(job)
            self.to_start -= 1

    def ended(self, outcome: JobOutcome) -> None:
        if outcome.ok and isinstance(outcome.result, dict) and outcome.result.get("state") == "interrupted":
            return  # stopped by Ctrl-C: left in flight, so requeue_in_flight queues it again for the next session
        if self.stop_reason is not None and not outcome.ok:
            return  # killed by the same Ctrl-C (its process group got it): rerun next session, not a failure
        params, trial = self.in_flight.pop(outcome.name)
        self.summary.inside.append(outcome.seconds)
        value, state, error = tell(self.study, trial, outcome)
        spec = self.spec
        if state == "complete" and spec.target is not None and value is not None:
            self.target_hit = value >= spec.target if spec.goal == "maximize" else value <= spec.target
        best = best_trial(self.study) if spec.metric is not None else None
        self.table.ended(outcome.name, params, value, state, outcome.wall, error, best)
        plots = time.monotonic() - self.last_plot > _PLOT_EVERY
        write_outputs(spec, self.study, self.folder, plots=plots, best=best)
        self.last_plot = time.monotonic() if plots else self.last_plot

    def run(self) -> None:
        write_outputs(self.spec, self.study, self.folder, plots=False)
        while True:
            self.fill()
            if not self.in_flight or self.stop_reason is not None:
                break
            outcome = self.sched.next_outcome(timeout=1.0)
            if outcome is not None:
                self.ended(outcome)
        write_outputs(self.spec, self.study, self.folder)

    @contextlib.contextmanager
    def stop_on_signals(self) -> Iterator[None]:
        """Ctrl-C (or SIGTERM) stops queuing trials and ends the session; a second one aborts at once."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return

        def handler(signum: int, _frame: Any) -> None:
            if self.stop_reason is not None:
                raise KeyboardInterrupt
            self.stop_reason = "Ctrl-C" if signum == signal.SIGINT else "SIGTERM"
            print("\nstopping the sweep: no new trials; running ones are rerun when you resume "
                  "(press Ctrl-C again to abort)...", file=sys.stderr, flush=True)

        old = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for s, h in old.items():
                signal.signal(s, h)

    def requeue_in_flight(self) -> None:
        """Ctrl-C or an error: leave the trials that did not end to be rerun by the next session."""
        import optuna

        for _name, (_params, trial) in self.in_flight.items():
            try:
                requeue(self.study, trial)
            except (optuna.exceptions.OptunaError, RuntimeError, ValueError, OSError) as e:
                warn(f"trial {trial.number} not queued again ({type(e).__name__}: {str(e)[:200]}); "
                     f"the next session starts a new trial in its place")


def run_optuna(spec: SweepSpec, sweep_file: Path, folder: SweepDir, total: int, opts: SweepOptions) -> SweepSummary:
    """One session of the sweep in ``folder`` (locked by the caller), up to ``total`` counted trials."""
    _claim_folder(spec, sweep_file, folder)
    study = _session_study(spec, folder, opts.seed)
    summary = SweepSummary(out=folder.path, total=total, metric_less=spec.metric is None)
    started = time.perf_counter()
    requeue_interrupted(study)  # 1. trials a killed sweep left running are queued again, same parameters
    trials = study.get_trials(deepcopy=False)
    summary.kept = sum(1 for t in trials if counted(t))
    summary.rerun = sum(1 for t in trials if t.state.name == "WAITING" and "rerun_of" in t.user_attrs)
    taken = {slot(t) for t in trials if counted(t) or t.state.name == "WAITING"}
    jobs = _TrialJobs(spec, sweep_file, folder, opts, taken)
    bus = EventBus()
    log = EventLog(folder.events_path)
    log.attach(bus)
    table = SweepTable(spec, total, opts.display)
    backend = make_backend(opts.backend, opts.workers, address=opts.address, env=jobs.env, preload=jobs.preload())
    sched = Scheduler(backend, bus=bus, retries=opts.retries, timeout=opts.timeout)
    # 2. study.ask() hands out the waiting reruns first, then new points
    loop = _Loop(spec, study, folder, jobs, table, sched, max(0, total - summary.kept), summary)
    bus.subscribe(JobStarted, lambda e: table.started(e.name, loop.in_flight.get(e.name, ({},))[0]))
    folder.trials_dir.mkdir(exist_ok=True)
    table.start()
    try:
        with loop.stop_on_signals():
            loop.run()
        summary.seconds = time.perf_counter() - started
        summary.interrupted = loop.stop_reason
        args = ["sweep", str(sweep_file), "--out", str(folder.path), "--trials", str(total)]
        if opts.workers != 2:
            args += ["--workers", str(opts.workers)]
        if opts.backend != "local":
            args += ["--backend", opts.backend]
        summary.resume_command = "lab " + shlex.join(args)
    finally:
        table.stop()
        loop.requeue_in_flight()
        sched.close()
        log.close()
    _summarize(spec, study, folder, summary)
    return summary


def _summarize(spec: SweepSpec, study: Any, folder: SweepDir, summary: SweepSummary) -> None:
    """States and the best trial into ``summary``; a metric that no trial ever reported is an error."""
    trials = [t for t in study.get_trials(deepcopy=False) if counted(t)]
    for t in trials:
        state = STATE[t.state.name]
        summary.states[state] = summary.states.get(state, 0) + 1
    if spec.metric is None:
        return
    best = best_trial(study)
    if best is not None:
        summary.best = {"trial": best[0], "value": best[1]}
    if trials and all(t.user_attrs.get("error", "").startswith("LabError: metric.name") for t in trials):
        raise LabError(f"metric {spec.metric!r} was never reported by any trial: "
                       f"{trials[0].user_attrs['error'].removeprefix('LabError: ')} (details: {folder.results_path})")
