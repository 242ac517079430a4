"""One sweep trial, run on a scheduler worker: a ``lab train`` run, or a program run the way a W&B agent runs it."""

from __future__ import annotations

import contextlib
import json
import math
import os
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from lab import atomic
from lab.errors import LabError, closest
from lab.events import EvalCompleted, EventBus, MetricsLogged, StopRequested
from lab.sweeps.check import as_set
from lab.sweeps.study import open_trial
from lab.sweeps.wandb_files import wandb_metric

__all__ = ["MetricReporter", "run_train_trial", "run_program_trial", "worker_env"]


class MetricReporter:
    """Subscriber: reports each value of ``metric`` to the Optuna trial; asks the run to stop when pruned."""

    def __init__(self, metric: str | None, trial: Any = None) -> None:
        self.metric, self.trial = metric, trial
        self.values: list[float] = []
        self.seen: set[str] = set()
        self.last: dict[str, float] = {}
        """The last value of every metric (a metric-less sweep's results)."""
        self.pruned_at: int | None = None
        self.bus: EventBus | None = None

    def attach(self, bus: EventBus) -> None:
        self.bus = bus
        bus.subscribe(MetricsLogged, self.on_metrics)
        bus.subscribe(EvalCompleted, self.on_eval)

    def on_metrics(self, e: MetricsLogged) -> None:
        self.seen.update(e.metrics)
        self.last.update(e.metrics)
        if self.metric is not None and self.metric in e.metrics:
            self.report(float(e.metrics[self.metric]))

    def on_eval(self, e: EvalCompleted) -> None:
        self.seen.update(("eval/mean_return", "eval/std_return"))
        self.last.update({"eval/mean_return": e.mean_return, "eval/std_return": e.std_return})
        if self.metric in ("eval/mean_return", "eval/std_return"):
            self.report(e.mean_return if self.metric == "eval/mean_return" else e.std_return)

    def report(self, value: float) -> None:
        self.values.append(value)
        if self.trial is None or self.pruned_at is not None or not math.isfinite(value):
            return
        k = len(self.values)
        self.trial.report(value, k)
        if self.trial.should_prune():
            self.pruned_at = k
            if self.bus is not None:
                self.bus.publish(StopRequested(reason=f"pruned by hyperband at iteration {k}"))

    def missing(self) -> LabError:
        seen = sorted(self.seen)
        hits = closest(self.metric, seen, n=1)
        hint = f"; did you mean {hits[0]!r}?" if hits else ""
        listed = f" It reported: {', '.join(seen[:12])}" if seen else " It reported no metrics."
        return LabError(f"metric.name: {self.metric!r} was never reported by this trial{hint or '.'}{listed}")


def run_train_trial(
    *, run_dir: str, params: dict[str, Any], metric: str | None, sweep: str, project: str | None, entity: str | None,
    threads: int | None, storage: str | None = None, study: str = "", trial_id: int | None = None,
    pruner: dict | None = None, track: bool = True,
) -> dict[str, Any]:
    """One sweep trial as a ``lab train`` run in ``run_dir``; returns its state, metric value and seconds."""
    from lab.training import resolve_config, train

    sets = [as_set(k, v) for k, v in params.items() if k not in ("algo", "env")]
    cfg = resolve_config(algo=str(params["algo"]), env=str(params["env"]), sets=sets)
    if threads and "threads" not in params:
        cfg.threads = threads
    cfg.track = cfg.track and track
    cfg.wandb.group = sweep
    cfg.wandb.tags = [*cfg.wandb.tags, "sweep"]
    if project and "wandb.project" not in params:
        cfg.wandb.project = project
    if entity:
        cfg.wandb.entity = entity
    reporter = MetricReporter(metric, open_trial(storage, study, trial_id, pruner))
    path = Path(run_dir)
    if path.exists():  # a rerun of an interrupted trial starts clean
        shutil.rmtree(path)
    result = train(cfg, run_dir=path, subscribers=[reporter], display=False)
    if metric is None:
        return {"state": "complete", "value": None, "summary": dict(result.metrics), "seconds": result.seconds}
    value = result.metrics.get(metric)
    if value is None and reporter.values:
        value = reporter.values[-1]
    if reporter.pruned_at is not None and result.status == "stopped":
        return {"state": "pruned", "value": value, "iteration": reporter.pruned_at, "seconds": result.seconds}
    if result.status == "stopped":  # Ctrl-C or SIGTERM: not a result; the sweep reruns it when resumed
        return {"state": "interrupted", "reason": result.reason, "seconds": result.seconds}
    if result.updates == 0:  # an untrained policy's score says nothing about its hyperparameters
        raise LabError(f"the trial made no update in {result.step:,} steps (its policy is the untrained initial "
                       "one); not ranked")
    if value is None or not math.isfinite(float(value)):
        raise reporter.missing()
    return {"state": "complete", "value": float(value), "seconds": result.seconds}


def _command(spec_command: list[str] | None, program: str, params: dict[str, Any], args_file: Path) -> list[str]:
    def flag(v: Any) -> str:
        return v if isinstance(v, str) else json.dumps(v)

    args = [f"--{k}={flag(v)}" for k, v in params.items()]
    macros: dict[str, list[str]] = {
        "${env}": ["/usr/bin/env"],
        "${interpreter}": [sys.executable],
        "${program}": [program],
        "${args}": args,
        "${args_no_hyphens}": [f"{k}={flag(v)}" for k, v in params.items()],
        "${args_json}": [json.dumps(params)],
        "${args_json_file}": [str(args_file)],
        "${args_no_boolean_flags}": [f"--{k}" if v is True else f"--{k}={flag(v)}" for k, v in params.items()
                                     if v is not False],
    }
    out: list[str] = []
    for item in spec_command or ["${env}", "${interpreter}", "${program}", "${args}"]:
        out.extend(macros.get(item, [item]))
    return out


def _follow(proc: subprocess.Popen, log: Any, bus: EventBus, stopped: list[str]) -> int:
    """Copy the program's output to its log; publish its JSON lines as metrics; stop it when pruned."""
    assert proc.stdout is not None
    for line in proc.stdout:
        log.write(line)
        text = line.strip()
        if text.startswith("{") and not stopped:
            with contextlib.suppress(ValueError):
                data = json.loads(text)
                if isinstance(data, dict):
                    numbers = {k: float(v) for k, v in data.items() if isinstance(v, (int, float))}
                    if numbers:
                        bus.publish(MetricsLogged(metrics=numbers))
        if stopped:
            proc.terminate()
            break
    return proc.wait()


def run_program_trial(
    *, run_dir: str, program: str, command: list[str] | None, params: dict[str, Any], metric: str | None, sweep: str,
    project: str | None, storage: str | None = None, study: str = "", trial_id: int | None = None,
    pruner: dict | None = None,
) -> dict[str, Any]:
    """Run ``program`` the way a W&B agent does (``--key=value`` args, ``WANDB_SWEEP_PARAM_PATH``).

    The metric is read from JSON lines the program prints (``{"loss": 0.3}``; each one is an iteration
    for hyperband; the last one is the result), else from what it logged to W&B (online or offline).
    """
    import yaml

    path = Path(run_dir)
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    param_file = path / "params.yaml"
    atomic.write_text(param_file, yaml.safe_dump({k: {"value": v} for k, v in params.items()}, sort_keys=False))
    atomic.write_text(path / "args.json", json.dumps(params))
    env = dict(os.environ)
    env.update(WANDB_SWEEP_PARAM_PATH=str(param_file), WANDB_RUN_GROUP=sweep, WANDB_DIR=str(path),
               WANDB_NAME=path.name)
    if project:
        env["WANDB_PROJECT"] = project
    reporter = MetricReporter(metric, open_trial(storage, study, trial_id, pruner))
    bus = EventBus()
    reporter.attach(bus)
    stopped: list[str] = []
    bus.subscribe(StopRequested, lambda e: stopped.append(e.reason))
    cmd = _command(command, program, params, path / "args.json")
    t0 = time.perf_counter()
    with open(path / "output.log", "w", encoding="utf-8") as log:
        with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=log, text=True, env=env, cwd=os.getcwd()) as proc:
            code = _follow(proc, log, bus, stopped)
    seconds = time.perf_counter() - t0
    if stopped:
        return {"state": "pruned", "value": reporter.values[-1], "iteration": reporter.pruned_at, "seconds": seconds}
    if code != 0:
        tail = (path / "output.log").read_text(errors="replace").strip().splitlines()[-1:] or [""]
        raise RuntimeError(f"{shlex.join(cmd[:3])} exited with code {code}: {tail[0][:200]}")
    if metric is None:
        return {"state": "complete", "value": None, "summary": dict(reporter.last), "seconds": seconds}
    value = reporter.values[-1] if reporter.values else None
    if value is None:
        value, logged = wandb_metric(path, metric)
        reporter.seen.update(logged)
    if value is None or not math.isfinite(value):
        raise reporter.missing()
    return {"state": "complete", "value": value, "seconds": seconds}


def worker_env() -> dict[str, str]:
    """The ``WANDB_*`` variables trial workers need (offline mode when no API key is configured)."""
    from lab.training.tracking import api_key_configured

    env = {k: v for k, v in os.environ.items() if k.startswith("WANDB_")}
    if "WANDB_MODE" not in env and not api_key_configured():
        env["WANDB_MODE"] = "offline"
    return env
