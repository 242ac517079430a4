"""``lab sweep``: run a W&B-format sweep file locally on Optuna, one scheduler job per trial.

method grid/random/bayes -> Optuna's grid, random and TPE samplers; ``early_terminate: hyperband`` ->
Optuna's Hyperband pruner on the metric as training reports it (each report is one iteration);
``metric.target`` stops the sweep once a trial reaches it; ``run_cap`` caps the trial count.

The sweep folder (``--out``, default ``sweeps/NAME``)::

    sweep.yaml       the sweep file this folder belongs to
    study.journal    Optuna journal storage: the study's state (resumable)
    results.csv      one row per trial: trial, each parameter, the metric, state, seconds, error
    best.yaml        the best trial's config: ``lab train --config best.yaml`` runs it
    trials.png       the metric per trial, and the best so far
    parallel.png     parallel coordinates: each trial's parameters, coloured by the metric
    events.jsonl     the scheduler's job events
    trials/trial-0003/   each trial's run folder (config.yaml, events.jsonl, wandb/, ...)

Run the same command again after a crash or ``kill -9``: finished trials are kept, interrupted ones
are rerun with the same parameters, and the total is what was asked.
"""

from __future__ import annotations

import contextlib
import csv
import fcntl
import io
import json
import math
import os
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lab import atomic
from lab.errors import ConfigError, LabError, closest
from lab.events import EvalCompleted, EventBus, MetricsLogged, StopRequested
from lab.jobs import Job, JobFailed, JobFinished, JobOutcome, JobStarted, Scheduler, make_backend
from lab.sweepspec import SweepSpec, load_spec

__all__ = ["SweepOptions", "SweepSummary", "run_sweep", "check_sweep", "run_train_trial", "run_program_trial"]

STUDY_FILE = "study.journal"
_STATE = {"COMPLETE": "complete", "PRUNED": "pruned", "FAIL": "failed", "RUNNING": "running", "WAITING": "waiting"}


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
    rerun: int = 0
    kept: int = 0
    seconds: float = 0.0
    """Wall-clock seconds of this session."""
    inside: list[float] = field(default_factory=list)
    """Seconds each trial of this session spent inside its trial function (benchmarks: overhead = the rest)."""


# --- checking the sweep against the lab's config -------------------------------------------------


def _candidates(spec: SweepSpec, key: str) -> list[Any]:
    for p in spec.params:
        if p.path == key:
            return list(p.values)
    return []


def _as_set(key: str, value: Any) -> str:
    return f"{key}={json.dumps(value)}"  # JSON is YAML: a string such as "on" or "null" stays a string


def check_train_params(spec: SweepSpec) -> None:
    """Every parameter must be a ``lab train`` config key; algo and env must be given.

    Raises:
        ConfigError: ``parameters.lr: not a config key of ppo; did you mean 'learning_rate'?``
    """
    from lab.registry import AGENTS
    from lab.train import RUN_KEYS, _agent_fields, canonical_key, resolve_config

    algos, envs = _candidates(spec, "algo"), _candidates(spec, "env")
    if not algos:
        raise ConfigError("parameters.algo: missing; give the agent, e.g. algo: {value: ppo} (or a program: to run)")
    if not envs:
        raise ConfigError("parameters.env: missing; give the environment, e.g. env: {value: CartPole-v1}")
    for algo in algos:
        try:
            agent_cls = AGENTS.load(str(algo))
        except LabError as e:
            raise ConfigError(f"parameters.algo: {e}") from None
        fields = _agent_fields(agent_cls)
        for p in spec.params:
            if p.path in ("algo", "env"):
                continue
            key = canonical_key(p.path, agent_cls)
            head = key.split(".")[0]
            parts = key.split(".")
            ok = head in RUN_KEYS and (head != "agent" or (len(parts) > 1 and parts[1] in fields))
            if not ok:
                known = [*RUN_KEYS, *fields]
                hits = closest(p.path.split(".")[-1], known, n=1) or closest(p.path, known, n=1)
                hint = f"; did you mean {hits[0]!r}?" if hits else " (see `lab config ALGO ENV`)"
                raise ConfigError(f"parameters.{p.path}: not a config key of {algo}{hint}")
        sets = [_as_set(p.path, _representative(p)) for p in spec.params]
        try:
            resolve_config(algo=str(algo), env=str(envs[0]), sets=sets)
        except LabError as e:
            raise ConfigError(f"parameters: {str(e).replace('--set ', '')}") from None


def _representative(p: Any) -> Any:
    if p.values:
        return p.values[0]
    if p.low is not None:
        return int(p.low) if p.distribution == "int_uniform" else max(p.low, 1e-12) if "log" in p.distribution else p.low
    return p.mu


def check_sweep(path: str | os.PathLike) -> SweepSpec:
    """Validate a sweep file (``lab sweep --check``) and return it."""
    spec = load_spec(path)
    try:
        if spec.program is None:
            check_train_params(spec)
        else:
            _program_path(spec, Path(path))
    except ConfigError as e:
        raise ConfigError(f"{path}: {e}") from None
    return spec


def _program_path(spec: SweepSpec, sweep_file: Path) -> Path:
    prog = Path(str(spec.program))
    for cand in (prog, sweep_file.parent / prog):
        if cand.exists():
            return cand.resolve()
    raise ConfigError(f"program: {spec.program!r} not found (looked in . and {sweep_file.parent})")


# --- trial workers -------------------------------------------------------------------------------


def _open_trial(storage_path: str | None, study_name: str, trial_id: int | None, pruner_spec: dict | None) -> Any:
    if storage_path is None or trial_id is None or pruner_spec is None:
        return None
    import optuna
    from optuna.storages.journal import JournalFileBackend, JournalStorage

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = JournalStorage(JournalFileBackend(storage_path))
    study = optuna.load_study(study_name=study_name, storage=storage, sampler=optuna.samplers.RandomSampler(),
                              pruner=_pruner(pruner_spec))
    return optuna.trial.Trial(study, trial_id)


def _pruner(p: dict | None) -> Any:
    import optuna

    if not p:
        return optuna.pruners.NopPruner()
    return optuna.pruners.HyperbandPruner(
        min_resource=p["min_iter"], max_resource=p.get("max_iter") or "auto", reduction_factor=max(2, round(p["eta"]))
    )


class MetricReporter:
    """Subscriber: reports each value of ``metric`` to the Optuna trial; asks the run to stop when pruned."""

    def __init__(self, metric: str, trial: Any = None) -> None:
        self.metric, self.trial = metric, trial
        self.values: list[float] = []
        self.seen: set[str] = set()
        self.pruned_at: int | None = None
        self.bus: EventBus | None = None

    def attach(self, bus: EventBus) -> None:
        self.bus = bus
        bus.subscribe(MetricsLogged, self.on_metrics)
        bus.subscribe(EvalCompleted, self.on_eval)

    def on_metrics(self, e: MetricsLogged) -> None:
        self.seen.update(e.metrics)
        if self.metric in e.metrics:
            self.report(float(e.metrics[self.metric]))

    def on_eval(self, e: EvalCompleted) -> None:
        self.seen.update(("eval/mean_return", "eval/std_return"))
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
    *, run_dir: str, params: dict[str, Any], metric: str, sweep: str, project: str | None, entity: str | None,
    threads: int | None, storage: str | None = None, study: str = "", trial_id: int | None = None,
    pruner: dict | None = None, track: bool = True,
) -> dict[str, Any]:
    """One sweep trial as a ``lab train`` run in ``run_dir``; returns its state, metric value and seconds."""
    from lab.train import resolve_config, train

    sets = [_as_set(k, v) for k, v in params.items() if k not in ("algo", "env")]
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
    reporter = MetricReporter(metric, _open_trial(storage, study, trial_id, pruner))
    path = Path(run_dir)
    if path.exists():  # a rerun of an interrupted trial starts clean
        shutil.rmtree(path)
    result = train(cfg, run_dir=path, subscribers=[reporter], display=False)
    value = result.metrics.get(metric)
    if value is None and reporter.values:
        value = reporter.values[-1]
    if reporter.pruned_at is not None and result.status == "stopped":
        return {"state": "pruned", "value": value, "iteration": reporter.pruned_at, "seconds": result.seconds}
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


def _wandb_records(path: Path) -> Iterator[bytes]:
    """The records of a ``run-*.wandb`` file (LevelDB log format: 32 KiB blocks, 7-byte record headers)."""
    import struct

    raw = path.read_bytes()
    if raw[:4] != b":W&B":
        return
    block, pos, buf = 32768, 7, b""
    while pos + 7 <= len(raw):
        if block - pos % block < 7:  # a block's tail too short for a header is padding
            pos += block - pos % block
            continue
        _crc, length, kind = struct.unpack("<IHB", raw[pos:pos + 7])
        chunk = raw[pos + 7:pos + 7 + length]
        pos += 7 + length
        if kind == 1:  # full
            yield chunk
        elif kind == 2:  # first
            buf = chunk
        elif kind == 3:  # middle
            buf += chunk
        elif kind == 4:  # last
            yield buf + chunk
            buf = b""


def _wandb_metric(run_dir: Path, metric: str) -> tuple[float | None, set[str]]:
    """The last value of ``metric`` the program logged to W&B (its run files under ``run_dir/wandb``),
    and every metric name it logged."""
    value: float | None = None
    seen: set[str] = set()
    for summary in sorted(run_dir.glob("wandb/*run-*/files/wandb-summary.json")):
        with contextlib.suppress(OSError, ValueError):
            data = json.loads(summary.read_text())
            seen.update(k for k in data if not k.startswith("_"))
            if isinstance(data.get(metric), (int, float)):
                value = float(data[metric])
    if value is not None:
        return value, seen
    try:
        from wandb.proto import wandb_internal_pb2 as pb
    except ImportError:
        return None, seen
    for path in sorted(run_dir.glob("wandb/*run-*/run-*.wandb")):
        with contextlib.suppress(Exception):
            for data in _wandb_records(path):
                record = pb.Record()
                record.ParseFromString(data)
                kind = record.WhichOneof("record_type")
                items = record.history.item if kind == "history" else record.summary.update if kind == "summary" else []
                for item in items:
                    key = item.key or "/".join(item.nested_key)
                    if key.startswith("_"):
                        continue
                    seen.add(key)
                    if key == metric:
                        with contextlib.suppress(ValueError, TypeError):
                            value = float(json.loads(item.value_json))
    return value, seen


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
    *, run_dir: str, program: str, command: list[str] | None, params: dict[str, Any], metric: str, sweep: str,
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
    reporter = MetricReporter(metric, _open_trial(storage, study, trial_id, pruner))
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
    value = reporter.values[-1] if reporter.values else None
    if value is None:
        value, logged = _wandb_metric(path, metric)
        reporter.seen.update(logged)
    if value is None or not math.isfinite(value):
        raise reporter.missing()
    return {"state": "complete", "value": value, "seconds": seconds}


# --- the sweep -----------------------------------------------------------------------------------


def _worker_env() -> dict[str, str]:
    from lab.tracking import api_key_configured

    env = {k: v for k, v in os.environ.items() if k.startswith("WANDB_")}
    if "WANDB_MODE" not in env and not api_key_configured():
        env["WANDB_MODE"] = "offline"
    return env


@contextlib.contextmanager
def _folder_lock(out: Path) -> Iterator[None]:
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise LabError(f"--out {out}: cannot create the sweep folder ({e.strerror})") from None
    with open(out / ".lock", "a+", encoding="utf-8") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise LabError(f"--out {out}: another lab sweep is running in this folder") from None
        f.seek(0)
        f.truncate()
        f.write(f"{os.getpid()}\n")
        f.flush()
        yield


def _slot(t: Any) -> int:
    return int(t.user_attrs.get("slot", t.number))


def _counted(t: Any) -> bool:
    name = t.state.name
    return name in ("COMPLETE", "PRUNED") or (name == "FAIL" and not t.user_attrs.get("interrupted"))


class _Table:
    """Live table of the sweep (rich): trials in flight, finished ones, the best so far."""

    def __init__(self, spec: SweepSpec, total: int, display: bool) -> None:
        self.spec, self.total, self.display = spec, total, display
        self.running: dict[str, tuple[dict, float]] = {}
        self.rows: list[tuple[str, dict, Any, str, float]] = []
        self.best: tuple[str, float] | None = None
        self.live: Any = None

    def start(self) -> None:
        if self.display and sys.stdout.isatty():
            from rich.live import Live

            self.live = Live(get_renderable=self.render, refresh_per_second=2, transient=False)
            self.live.start()

    def render(self) -> Any:
        from rich.table import Table

        done = len(self.rows)
        best = f"; best {self.best[1]:.4g} ({self.best[0]})" if self.best else ""
        table = Table(title=f"sweep {self.spec.name}: {done}/{self.total} done, {len(self.running)} running{best}")
        for col in ("trial", "state", "parameters", self.spec.metric, "seconds"):
            table.add_column(col)
        now = time.time()
        for name, (params, t0) in self.running.items():
            table.add_row(name, "running", _short(params), "", f"{now - t0:.0f}")
        for name, params, value, state, seconds in self.rows[-12:]:
            star = " *" if self.best and self.best[0] == name else ""
            shown = f"{value:.4g}{star}" if isinstance(value, float) else ""
            table.add_row(name, state, _short(params), shown, f"{seconds:.0f}")
        return table

    def started(self, name: str, params: dict) -> None:
        fixed = {p.path for p in self.spec.params if p.fixed}
        self.running[name] = ({k: v for k, v in params.items() if k not in fixed}, time.time())

    def ended(self, name: str, params: dict, value: Any, state: str, seconds: float, error: str,
              best: tuple[str, float] | None) -> None:
        self.running.pop(name, None)
        fixed = {p.path for p in self.spec.params if p.fixed}
        params = {k: v for k, v in params.items() if k not in fixed}
        self.rows.append((name, params, value, state, seconds))
        self.best = best
        if self.live is None and self.display:
            shown = f"{self.spec.metric}={value:.4g}" if isinstance(value, float) else ""
            tail = f" ({error})" if error else ""
            print(f"{name} {state} {shown} in {seconds:.0f} s: {_short(params)}{tail}", flush=True)

    def stop(self) -> None:
        if self.live is not None:
            self.live.stop()


def _short(params: dict) -> str:
    def fmt(v: Any) -> str:
        return f"{v:.3g}" if isinstance(v, float) else str(v)

    return ", ".join(f"{k.split('.')[-1]}={fmt(v)}" for k, v in params.items())


def run_sweep(path: str | os.PathLike, opts: SweepOptions) -> SweepSummary:
    """Run (or continue) the sweep in ``path``; see the module docstring for the folder it writes."""
    spec = check_sweep(path)
    for flag, value in (("--trials", opts.trials), ("--workers", opts.workers), ("--timeout", opts.timeout)):
        if value is not None and value <= 0:
            raise LabError(f"{flag}: expected a positive number, got {value}")
    if opts.engine == "wandb":
        return _run_wandb_engine(spec, opts)
    if opts.engine != "optuna":
        from lab.errors import unknown_name

        raise unknown_name("engine", opts.engine, ["optuna", "wandb"])
    total = opts.trials or spec.run_cap or (spec.grid_size() if spec.method == "grid" else None)
    if total is None:
        raise LabError(f"{path}: how many trials? give --trials N (or run_cap in the file) for a {spec.method} sweep")
    if spec.run_cap:
        total = min(total, spec.run_cap)
    if spec.method == "grid":
        total = min(total, spec.grid_size())
    out = Path(opts.out or Path("sweeps") / spec.name)
    with _folder_lock(out):
        return _run_locked(spec, Path(path), out, total, opts)


def _study(spec: SweepSpec, out: Path, seed: int) -> Any:
    import optuna
    from optuna.storages.journal import JournalFileBackend, JournalStorage

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = JournalStorage(JournalFileBackend(str(out / STUDY_FILE)))
    direction = "maximize" if spec.goal == "maximize" else "minimize"
    if spec.method in ("grid", "random"):  # grid: each combination is enqueued in turn (_next_grid_point)
        sampler = optuna.samplers.RandomSampler(seed=seed)
    else:
        sampler: Any = optuna.samplers.TPESampler(seed=seed, n_startup_trials=min(10, max(2, len(spec.params) + 1)))
    pruner = _pruner(_pruner_spec(spec))
    study = optuna.create_study(study_name=spec.name, storage=storage, direction=direction, sampler=sampler,
                                pruner=pruner, load_if_exists=True)
    return study


def _pruner_spec(spec: SweepSpec) -> dict | None:
    et = spec.early_terminate
    return None if et is None else {"min_iter": et.min_iter, "max_iter": et.max_iter, "eta": et.eta}


def _run_locked(spec: SweepSpec, sweep_file: Path, out: Path, total: int, opts: SweepOptions) -> SweepSummary:
    import optuna
    import yaml

    from lab.eventlog import EventLog

    saved = out / "sweep.yaml"
    if saved.exists():
        try:
            previous = yaml.safe_load(saved.read_text(encoding="utf-8"))
        except yaml.YAMLError:
            previous = None
        if previous != spec.raw:
            raise LabError(f"--out {out} holds a different sweep ({saved}); use another --out or remove the folder")
    else:
        atomic.write_text(saved, sweep_file.read_text(encoding="utf-8"))
    # A new seed per session: a resumed random sweep must not draw the same points again.
    pre = _study(spec, out, opts.seed)
    seed = opts.seed + len(pre.trials)
    study = _study(spec, out, seed) if pre.trials else pre
    storage_path = str((out / STUDY_FILE).resolve())

    # 1. Trials left RUNNING by a killed sweep are marked interrupted and queued again, same parameters.
    summary = SweepSummary(out=out, total=total)
    started = time.perf_counter()
    for t in study.get_trials(deepcopy=False):
        if t.state == optuna.trial.TrialState.RUNNING:
            study._storage.set_trial_user_attr(t._trial_id, "interrupted", True)
            study.tell(t.number, state=optuna.trial.TrialState.FAIL)
            study.enqueue_trial(t.params, user_attrs={"slot": _slot(t), "rerun_of": t.number})
    trials = study.get_trials(deepcopy=False)
    summary.kept = sum(1 for t in trials if _counted(t))
    summary.rerun = sum(1 for t in trials if t.state == optuna.trial.TrialState.WAITING and "rerun_of" in t.user_attrs)
    taken = {_slot(t) for t in trials if _counted(t) or t.state == optuna.trial.TrialState.WAITING}
    free_slots = (s for s in range(10**9) if s not in taken)
    to_start = max(0, total - summary.kept)  # study.ask() takes the WAITING reruns first

    is_train = spec.program is None
    program = str(_program_path(spec, sweep_file)) if not is_train else None
    preload = ["lab.sweep", "lab.train", "optuna"]
    if is_train:
        from lab.registry import AGENTS

        for algo in _candidates(spec, "algo"):
            preload.append(AGENTS.get(str(algo)).target.partition(":")[0])
    env = _worker_env()
    threads = opts.threads or max(1, (os.cpu_count() or 1) // max(1, opts.workers))
    bus = EventBus()
    log = EventLog(out / "events.jsonl")
    log.attach(bus)
    table = _Table(spec, total, opts.display)
    bus.subscribe(JobStarted, lambda e: table.started(e.name, in_flight.get(e.name, ({},))[0]))
    backend = make_backend(opts.backend, opts.workers, address=opts.address, env=env, preload=preload)
    sched = Scheduler(backend, bus=bus, retries=opts.retries, timeout=opts.timeout)
    in_flight: dict[str, tuple[dict, Any]] = {}
    target_hit = False
    (out / "trials").mkdir(exist_ok=True)
    table.start()
    try:
        _write_outputs(spec, study, out, plots=False)
        last_plot = time.monotonic()
        while True:
            while to_start > 0 and sched.free > 0 and not target_hit:
                if spec.method == "grid":
                    _next_grid_point(spec, study)
                trial = study.ask()
                if "slot" not in trial.user_attrs:
                    trial.set_user_attr("slot", next(free_slots))
                slot = int(trial.user_attrs["slot"])
                params = {p.path: p.sample(trial) for p in spec.params}
                trial.set_user_attr("params", params)
                name = f"trial-{slot:04d}"
                kwargs: dict[str, Any] = dict(
                    run_dir=str((out / "trials" / name).resolve()), params=params, metric=spec.metric,
                    sweep=spec.name, project=spec.project, storage=storage_path, study=spec.name,
                    trial_id=trial._trial_id, pruner=_pruner_spec(spec),
                )
                if is_train:
                    kwargs.update(entity=spec.entity, threads=threads)
                    target = "lab.sweep:run_train_trial"
                else:
                    kwargs.update(program=program, command=spec.command)
                    target = "lab.sweep:run_program_trial"
                in_flight[name] = (params, trial)
                sched.submit(Job(name, target, kwargs, env=env, cpus=1, gpus=opts.gpus_per_trial))
                to_start -= 1
            if not in_flight:
                break
            outcome = sched.next_outcome(timeout=1.0)
            if outcome is None:
                continue
            params, trial = in_flight.pop(outcome.name)
            summary.inside.append(outcome.seconds)
            value, state, error = _tell(study, trial, outcome, spec)
            if state == "complete" and spec.target is not None and value is not None:
                target_hit = value >= spec.target if spec.goal == "maximize" else value <= spec.target
            best = _best(study)
            table.ended(outcome.name, params, value, state, outcome.wall, error, best)
            plots = time.monotonic() - last_plot > 30  # plots take ~0.5 s of CPU the trials could use
            _write_outputs(spec, study, out, plots=plots, best=best)
            last_plot = time.monotonic() if plots else last_plot
        _write_outputs(spec, study, out)
        summary.seconds = time.perf_counter() - started
    finally:
        table.stop()
        for _name, (_params, trial) in in_flight.items():  # Ctrl-C: leave them to be rerun
            with contextlib.suppress(Exception):
                study._storage.set_trial_user_attr(trial._trial_id, "interrupted", True)
                study.tell(trial, state=optuna.trial.TrialState.FAIL)
                study.enqueue_trial(trial.params, user_attrs={"slot": _slot(trial), "rerun_of": trial.number})
        sched.close()
        log.close()
    trials = [t for t in study.get_trials(deepcopy=False) if _counted(t)]
    for t in trials:
        state = _STATE[t.state.name]
        summary.states[state] = summary.states.get(state, 0) + 1
    best = _best(study)
    if best is not None:
        summary.best = {"trial": best[0], "value": best[1]}
    if trials and all(t.user_attrs.get("error", "").startswith("LabError: metric.name") for t in trials):
        raise LabError(f"metric {spec.metric!r} was never reported by any trial: "
                       f"{trials[0].user_attrs['error'].removeprefix('LabError: ')} (details: {out / 'results.csv'})")
    return summary


def _next_grid_point(spec: SweepSpec, study: Any) -> None:
    """Enqueue the first grid combination no trial has taken (unless one is already waiting)."""
    import itertools

    trials = study.get_trials(deepcopy=False)
    if any(t.state.name == "WAITING" for t in trials):
        return
    names = [p.path for p in spec.params if not p.fixed]
    taken = {tuple(repr(t.params.get(n)) for n in names) for t in trials
             if _counted(t) or t.state.name == "RUNNING"}
    for combo in itertools.product(*(p.values for p in spec.params if not p.fixed)):
        if tuple(repr(v) for v in combo) not in taken:
            study.enqueue_trial(dict(zip(names, combo)))
            return


def _tell(study: Any, trial: Any, outcome: JobOutcome, spec: SweepSpec) -> tuple[Any, str, str]:
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
    study.tell(trial, result["value"])
    return result["value"], "complete", ""


def _best(study: Any) -> tuple[str, float] | None:
    done = [t for t in study.get_trials(deepcopy=False) if t.state.name == "COMPLETE" and t.value is not None]
    if not done:
        return None
    pick = max if study.direction.name == "MAXIMIZE" else min
    t = pick(done, key=lambda t: t.value)
    return f"trial-{_slot(t):04d}", float(t.value)


def _rows(spec: SweepSpec, study: Any) -> list[dict[str, Any]]:
    rows = []
    for t in study.get_trials(deepcopy=False):
        if not _counted(t):
            continue
        params = t.user_attrs.get("params", {})
        value = t.value if t.value is not None else (
            t.intermediate_values[max(t.intermediate_values)] if t.intermediate_values else None
        )
        row: dict[str, Any] = {"trial": _slot(t)}
        for p in spec.params:
            row[p.path] = params.get(p.path)
        row[spec.metric] = value
        row["state"] = _STATE[t.state.name]
        row["seconds"] = t.user_attrs.get("seconds")
        row["error"] = t.user_attrs.get("error", "")
        rows.append(row)
    return sorted(rows, key=lambda r: r["trial"])


def _write_outputs(spec: SweepSpec, study: Any, out: Path, plots: bool = True, best: Any = None) -> None:
    """results.csv, best.yaml and (with ``plots``) the PNGs; ``best``: :func:`_best` when the caller has it."""
    rows = _rows(spec, study)
    buf = io.StringIO()
    fields = ["trial", *(p.path for p in spec.params), spec.metric, "state", "seconds", "error"]
    writer = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if v is None else v) for k, v in row.items()})
    atomic.write_text(out / "results.csv", buf.getvalue())
    best = best if best is not None else _best(study)
    if best is not None:
        name = best[0]
        cfg_path = out / "trials" / name / "config.yaml"
        if cfg_path.exists():
            body = [line for line in cfg_path.read_text(encoding="utf-8").splitlines() if not line.startswith("#")]
            header = [f"# best trial of sweep {spec.name!r}: {name}, {spec.metric} = {best[1]:.6g}",
                      f"# lab train --config {out / 'best.yaml'}  runs it again"]
            atomic.write_text(out / "best.yaml", "\n".join(header + body) + "\n")
        else:
            params = next((t.user_attrs.get("params", {}) for t in study.get_trials(deepcopy=False)
                           if f"trial-{_slot(t):04d}" == name), {})
            import yaml

            atomic.write_text(out / "best.yaml", f"# best trial {name}: {spec.metric} = {best[1]:.6g}\n"
                              + yaml.safe_dump(params, sort_keys=False))
    if rows and plots:
        from lab.sweepplots import metric_plot, parallel_plot

        with contextlib.suppress(Exception):
            metric_plot(rows, spec, out / "trials.png")
            parallel_plot(rows, spec, out / "parallel.png")


# --- W&B's own sweep controller ------------------------------------------------------------------


def _run_wandb_engine(spec: SweepSpec, opts: SweepOptions) -> SweepSummary:
    """``--engine wandb``: a real W&B sweep (its controller runs on W&B's servers) with local agents."""
    from lab.tracking import api_key_configured

    if not api_key_configured() or os.environ.get("WANDB_MODE") in ("offline", "dryrun", "disabled"):
        raise LabError(
            "--engine wandb needs a W&B API key and the network (W&B's sweep controller runs on its server; "
            "no key is configured or WANDB_MODE is offline); the default --engine optuna runs the same file offline"
        )
    if spec.program is not None:
        raise LabError("--engine wandb runs lab train trials only; use the default --engine optuna for a program: sweep")
    import wandb

    sweep_id = wandb.sweep(dict(spec.raw), project=spec.project or "lab", entity=spec.entity)
    count = opts.trials or spec.run_cap
    out = Path(opts.out or Path("sweeps") / spec.name)
    out.mkdir(parents=True, exist_ok=True)
    jobs = [Job(f"agent-{i}", "lab.sweep:_wandb_agent",
                {"sweep_id": sweep_id, "project": spec.project or "lab", "entity": spec.entity,
                 "count": None if count is None else -(-count // opts.workers), "metric": spec.metric,
                 "out": str(out.resolve())}, env=_worker_env())
            for i in range(opts.workers)]
    with Scheduler(make_backend(opts.backend, opts.workers, address=opts.address), retries=0) as sched:
        for job in jobs:
            sched.submit(job)
        failed = [o for o in sched.drain() if not o.ok]
    if failed:
        raise LabError(f"W&B agent failed: {failed[0].error}")
    return SweepSummary(out=out, total=count or 0)


def _wandb_agent(*, sweep_id: str, project: str, entity: str | None, count: int | None, metric: str, out: str) -> None:
    import wandb

    def one() -> None:
        run = wandb.init()
        params = dict(run.config)
        run_dir = Path(out) / "trials" / run.id
        result = run_train_trial(run_dir=str(run_dir), params=params, metric=metric, sweep=sweep_id,
                                 project=project, entity=entity, threads=None, track=False)
        run.log({metric: result["value"]})
        run.finish()

    wandb.agent(sweep_id, function=one, project=project, entity=entity, count=count)
