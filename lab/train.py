"""``lab train``: resolve the config, make (or reopen) the run folder, wire the subscribers, drive the agent.

Config layers, later wins: the agent's ``Config`` defaults < its tuned values for the env <
``--hyperparams`` (an rl-baselines3-zoo file) < ``--config FILE`` < command-line flags < ``--set``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import signal
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from lab.agent import TrainContext
from lab.checkpointing import CHECKPOINT_FORMAT, CheckpointWriter
from lab.config import (
    Provenance,
    apply_sets,
    deep_merge,
    from_dict,
    load_yaml,
    parse_set,
    save_yaml,
    to_dict,
)
from lab.envs import EnvInfo, resolve_env
from lab.errors import ConfigError, LabError, RunDirError, closest
from lab.evaluation import EVAL_SEED_OFFSET, PeriodicEvaluator, eval_event, write_eval_json
from lab.eventlog import EventLog, read_events, roll_back
from lab.events import (
    EvalCompleted,
    EventBus,
    MetricsLogged,
    RunFailed,
    RunFinished,
    RunInterrupted,
    RunStarted,
    StopRequested,
)
from lab.registry import AGENTS
from lab.runs import RunDir, default_run_dir, save_state
from lab.tracking import WandbConfig, WandbLogger

__all__ = ["TrainConfig", "TrainResult", "resolve_config", "train", "resume", "resolve_device", "check_fits"]


@dataclass
class TrainConfig:
    """One training run: what to train, on what, for how long, and where results go."""

    algo: str
    """Agent name (see `lab list agents`)."""
    env: str
    """Environment: a Gymnasium id, a lab environment (`lab list envs`) or module:Class."""
    steps: int | None = None
    """Environment steps to train for; null: the agent's tuned budget for this environment."""
    seed: int = 0
    """Seed for the agent, the environments and evaluation."""
    device: Literal["auto", "cpu", "cuda"] = "auto"
    """Torch device; auto picks CUDA when it is available."""
    threads: int | None = None
    """Torch CPU threads; null: the agent's default (tuned per algorithm on 2-core machines)."""
    checkpoint_every: int | None = None
    """Steps between checkpoints; null: a tenth of the budget; 0: only at the end."""
    keep_checkpoints: int = 3
    """How many of the latest checkpoints to keep."""
    eval_every: int = 0
    """Steps between evaluations during training; 0: only the final evaluation."""
    eval_episodes: int = 10
    """Episodes per evaluation (deterministic policy, seeds distinct from training)."""
    track: bool = True
    """Log to Weights & Biases (offline when no API key is configured)."""
    wandb: WandbConfig = field(default_factory=WandbConfig)
    """W&B project, group and tags."""
    agent: Any = None
    """The agent's hyperparameters (its Config dataclass, chosen by `algo`)."""

    def __post_init__(self) -> None:
        for name in ("steps", "eval_episodes", "keep_checkpoints", "threads"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ConfigError(f"{name}: expected a positive number, got {value}")
        for name in ("checkpoint_every", "eval_every"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ConfigError(f"{name}: expected 0 or a positive number, got {value}")


RUN_KEYS = tuple(f.name for f in dataclasses.fields(TrainConfig))


@dataclass
class TrainResult:
    """What a finished (or stopped) run produced."""

    run_dir: Path
    status: Literal["finished", "stopped"]
    step: int
    seconds: float
    eval: dict[str, Any] | None = None
    """The final evaluation: mean_return, std_return, episodes (None when stopped early)."""
    metrics: dict[str, float] = field(default_factory=dict)
    """The last value of every metric published during the run (``eval/mean_return`` included)."""
    reason: str = ""


# --- config resolution -------------------------------------------------------------------------


def _agent_fields(agent_cls: type) -> list[str]:
    return [f.name for f in dataclasses.fields(agent_cls.Config) if f.init]


def canonical_key(key: str, agent_cls: type) -> str:
    """``learning_rate`` -> ``agent.learning_rate`` when it is an agent field and not a run field."""
    head = key.split(".")[0]
    if head not in RUN_KEYS and head in _agent_fields(agent_cls):
        return "agent." + key
    return key


def _pick(name: str, cli: str | None, sets: list[tuple[tuple[str, ...], Any]], file_data: dict) -> str | None:
    for path, value in reversed(sets):
        if path == (name,):
            return str(value)
    if cli:
        return cli
    value = file_data.get(name)
    return str(value) if value is not None else None


def _zoo_layer(path: str, algo: str, env: str, agent_cls: type, notes: list[str]) -> tuple[dict, Provenance]:
    from_zoo = getattr(agent_cls, "from_zoo", None)
    if from_zoo is None:
        raise ConfigError(f"--hyperparams: {algo} does not read rl-baselines3-zoo hyperparameter files")
    lines: Provenance = {}
    data = load_yaml(path, lines)
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of environment ids to hyperparameters")
    key = env if env in data else ("atari" if resolve_env(env).atari and "atari" in data else None)
    if key is None:
        hits = closest(env, [str(k) for k in data], n=1)
        hint = f"; did you mean {hits[0]!r}?" if hits else f"; it has: {', '.join(map(str, list(data)[:8]))}"
        raise ConfigError(f"{path}: no entry for {env!r}{hint}")
    entry = data[key]
    if not isinstance(entry, dict):
        raise ConfigError(f"{lines.get((key,), path)}: {key}: expected a mapping of hyperparameters, got {entry!r}")
    where = lines.get((key,), path)
    layer, ignored = from_zoo(entry, where=where)
    if ignored:
        notes.append(f"{where}: {key}: keys not understood, not used: {', '.join(sorted(ignored))}")
    prov = {(k,): where for k in layer if k != "agent"}
    prov.update({("agent", k): where for k in layer.get("agent", {})})
    return layer, prov


def resolve_config(
    *,
    algo: str | None = None,
    env: str | None = None,
    config_file: str | None = None,
    hyperparams: str | None = None,
    sets: Sequence[str] = (),
    flags: dict[str, Any] | None = None,
    agent_flags: dict[str, Any] | None = None,
    notes: list[str] | None = None,
) -> TrainConfig:
    """Merge the config layers into a validated :class:`TrainConfig`.

    Args:
        algo, env: positional arguments of ``lab train`` (override the config file's).
        config_file: ``--config`` YAML (a saved ``config.yaml`` reproduces its run).
        hyperparams: ``--hyperparams``: an rl-baselines3-zoo YAML; the entry for ``env`` is used.
        sets: ``--set key=value`` items; a bare agent key (``learning_rate``) means ``agent.learning_rate``.
        flags: run-level command-line options (``steps``, ``seed``, ...); None values are ignored.
        agent_flags: options that set agent fields (``n_envs``, ``minutes``, ...); an agent without
            that field is an error.
        notes: receives remarks for the user (e.g. hyperparameters that were not understood).

    Raises:
        ConfigError: unknown keys (with the closest known key), wrong types (with file and line).
        UnknownNameError: unknown algorithm.
    """
    notes = notes if notes is not None else []
    prov: Provenance = {}
    file_data: dict = {}
    if config_file:
        loaded = load_yaml(config_file, prov)
        if loaded is not None and not isinstance(loaded, dict):
            raise ConfigError(f"{config_file}: expected a mapping of config keys, got {type(loaded).__name__}")
        file_data = loaded or {}
    parsed_sets = [parse_set(s) for s in sets]
    algo = _pick("algo", algo, parsed_sets, file_data)
    env = _pick("env", env, parsed_sets, file_data)
    if not algo:
        raise ConfigError("no algorithm given: use `lab train ALGO ENV` (see `lab list agents`) or --config FILE")
    if not env:
        raise ConfigError("no environment given: use `lab train ALGO ENV` (see `lab list envs`) or --config FILE")
    agent_cls = AGENTS.load(algo)

    data: dict[str, Any] = {"agent": {}}
    tuned = dict(agent_cls.tuned(env))
    data = deep_merge(data, {k: v for k, v in tuned.items() if k in RUN_KEYS})
    data["agent"] = deep_merge(data["agent"], {k: v for k, v in tuned.items() if k not in RUN_KEYS})
    if hyperparams:
        layer, zoo_prov = _zoo_layer(hyperparams, algo, env, agent_cls, notes)
        data = deep_merge(data, layer)
        prov.update({k: v for k, v in zoo_prov.items() if k not in prov})
    data = deep_merge(data, file_data)
    data["algo"], data["env"] = algo, env
    for name, value in (flags or {}).items():
        if value is not None:
            data[name] = value
            prov[(name,)] = f"--{name.replace('_', '-')} {value}"
    agent_keys = _agent_fields(agent_cls)
    for name, value in (agent_flags or {}).items():
        if value is None:
            continue
        if name not in agent_keys:
            raise ConfigError(f"--{name.replace('_', '-')} does not apply to {algo} (it has no {name!r} setting)")
        data["agent"][name] = value
        prov[("agent", name)] = f"--{name.replace('_', '-')} {value}"
    canonical = []
    for item in sets:
        key, _, value = item.partition("=")
        key = canonical_key(key.strip(), agent_cls)
        head = key.split(".")[0]
        if head not in RUN_KEYS:
            known = [*RUN_KEYS, *agent_keys, *(f"agent.{k}" for k in agent_keys)]
            hits = closest(head, known, n=1)
            hint = f"; did you mean {canonical_key(hits[0], agent_cls)!r}?" if hits else " (see `lab config ALGO ENV`)"
            raise ConfigError(f"--set {item}: unknown key {key!r}{hint}")
        canonical.append(f"{key}={value}")
    apply_sets(data, canonical, prov)
    for path, value in parsed_sets:  # keep the --set spelling the user typed in messages
        full = tuple(canonical_key(".".join(path), agent_cls).split("."))
        if full != path:
            prov[full] = f"--set {'.'.join(path)}={value}"
    cfg = from_dict(TrainConfig, data, provenance=prov, field_types={("agent",): agent_cls.Config})
    return cfg


# --- running -----------------------------------------------------------------------------------


def resolve_device(device: str) -> str:
    """``auto`` -> ``cuda`` when available, else ``cpu``; ``cuda`` without a GPU is an error."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise LabError(f"--device cuda: no CUDA device is available to torch {torch.__version__}")
    return device


def check_fits(algo: str, agent_cls: type, env: EnvInfo) -> None:
    """Raise a LabError saying why ``algo`` cannot train on ``env`` and which algorithms can."""
    reason = agent_cls.supports(env)
    if reason is None:
        return
    fits = []
    for name in AGENTS.names():
        if name == algo:
            continue
        try:
            if AGENTS.load(name).supports(env) is None:
                fits.append(name)
        except LabError:
            continue
    tail = f"; algorithms that fit: {', '.join(fits)}" if fits else ""
    raise LabError(f"{algo} cannot train on {env.id}: {reason}{tail}")


def _seed_everything(seed: int) -> None:
    import random

    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


@contextlib.contextmanager
def _stop_on_signals(ctx: TrainContext, reasons: list[str]) -> Iterator[None]:
    """First Ctrl-C (or SIGTERM) asks the agent to stop at its next safe point; a second one aborts."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, _frame: Any) -> None:
        if ctx.stop_event.is_set():
            raise KeyboardInterrupt
        reasons.append("Ctrl-C" if signum == signal.SIGINT else "SIGTERM")
        ctx.stop_event.set()
        print("\nstopping at the next safe point (press Ctrl-C again to abort)...", file=sys.stderr)

    old = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


class _LastMetrics:
    def __init__(self) -> None:
        self.values: dict[str, float] = {}

    def attach(self, bus: EventBus) -> None:
        bus.subscribe(MetricsLogged, lambda e: self.values.update(e.metrics))
        bus.subscribe(EvalCompleted, self.on_eval)

    def on_eval(self, e: EvalCompleted) -> None:
        self.values["eval/mean_return"] = e.mean_return
        self.values["eval/std_return"] = e.std_return


def _finished_already(run: RunDir) -> bool:
    events = read_events(run.events_path)
    return run.model_path.exists() and bool(events) and events[-1].get("event") == RunFinished.__name__


def _checked_env(cfg: TrainConfig) -> EnvInfo:
    """Probe the config's environment once and check that its agent can handle the spaces."""
    env = resolve_env(cfg.env)
    check_fits(cfg.algo, AGENTS.load(cfg.algo), env)
    return env


def _execute(
    cfg: TrainConfig,
    env: EnvInfo,
    run: RunDir,
    state: dict[str, Any] | None,
    *,
    subscribers: Sequence[Any],
    display: bool,
) -> TrainResult:
    t0 = time.perf_counter()
    agent_cls = AGENTS.load(cfg.algo)
    device = resolve_device(cfg.device)
    threads = cfg.threads or getattr(agent_cls, "default_threads", None)
    if threads:
        import torch

        torch.set_num_threads(threads)
    _seed_everything(cfg.seed)
    agent = agent_cls(cfg.agent, env, seed=cfg.seed, device=device)
    start = 0
    if state is not None:
        agent.load_state_dict(state["agent"])
        start = int(state["step"])
    budget = agent.budget(cfg.steps)
    every = cfg.checkpoint_every
    if every is None:
        every = max(1, int(budget.total // 10)) if budget.unit == "steps" else 1

    bus = EventBus()
    eval_seed = cfg.seed + EVAL_SEED_OFFSET
    writer = CheckpointWriter(run, every, cfg.keep_checkpoints, meta=lambda: {"algo": cfg.algo, "env": cfg.env})
    evaluator = PeriodicEvaluator(cfg.eval_every, cfg.eval_episodes, eval_seed)
    last = _LastMetrics()
    subs: list[Any] = [EventLog(run.events_path), writer, evaluator, last]
    if display:
        from lab.progress import ProgressDisplay

        subs.append(ProgressDisplay())
    if cfg.track:
        subs.append(WandbLogger(cfg.wandb, run.path))
    subs.extend(subscribers)
    for sub in subs:
        sub.attach(bus)
    writer.start_at(start)
    evaluator.start_at(start)
    ctx = TrainContext(bus=bus, run_dir=run.path, device=device)
    reasons: list[str] = []
    bus.subscribe(StopRequested, lambda e: reasons.append(e.reason or "stop requested"))
    try:
        bus.publish(
            RunStarted(
                step=start,
                run_dir=str(run.path),
                algo=cfg.algo,
                env=cfg.env,
                config=to_dict(cfg),
                total=budget.total,
                unit=budget.unit,
                done=budget.done,
                resumed_from=start if state is not None else None,
            )
        )
        try:
            with _stop_on_signals(ctx, reasons):
                agent.learn(ctx, cfg.steps)
        except BaseException as e:
            bus.publish(RunFailed(step=agent.step, error=f"{type(e).__name__}: {e}"))
            raise
        step = agent.step
        writer.save(agent, step)
        if ctx.should_stop():
            reason = reasons[0] if reasons else "stop requested"
            bus.publish(RunInterrupted(step=step, reason=reason))
            return TrainResult(run.path, "stopped", step, time.perf_counter() - t0, None, dict(last.values), reason)
        save_state(
            {"format": CHECKPOINT_FORMAT, "algo": cfg.algo, "env": cfg.env, "step": step, "agent": agent.state_dict(full=False)},
            run.model_path,
        )
        t_eval = time.perf_counter()
        final = eval_event(step, agent.evaluate(cfg.eval_episodes, seed=eval_seed), time.perf_counter() - t_eval)
        bus.publish(final)
        write_eval_json(run, final, seed=eval_seed, deterministic=True)
        from lab.plots import learning_curve

        learning_curve([run.path], run.curve_path, title=f"{cfg.algo} on {cfg.env}")
        seconds = time.perf_counter() - t0
        bus.publish(RunFinished(step=step, seconds=seconds))
        summary = {"mean_return": final.mean_return, "std_return": final.std_return, "episodes": final.episodes}
        return TrainResult(run.path, "finished", step, seconds, summary, dict(last.values))
    finally:
        for sub in subs:
            close = getattr(sub, "close", None)
            if close is not None:
                close()


def _new_run_dir(cfg: TrainConfig, run_dir: str | Path | None) -> RunDir:
    if run_dir is not None:
        return RunDir.create(run_dir)
    base = default_run_dir(cfg.algo, cfg.env)
    path, n = base, 1
    while path.exists():
        n += 1
        path = base.with_name(f"{base.name}-{n}")
    return RunDir.create(path)


def train(
    cfg: TrainConfig,
    *,
    run_dir: str | Path | None = None,
    subscribers: Sequence[Any] = (),
    display: bool = True,
) -> TrainResult:
    """Train a new run. The run folder must not exist yet (or be empty).

    Args:
        cfg: the resolved config (see :func:`resolve_config`).
        run_dir: where the run goes; default ``runs/<algo>-<env>-<timestamp>``.
        subscribers: extra objects with ``attach(bus)`` (sweeps attach pruners here).
        display: draw the live progress display.
    """
    env = _checked_env(cfg)  # before making the folder
    run = _new_run_dir(cfg, run_dir)
    save_yaml(cfg, run.config_path, header=f"lab train --config {run.config_path}  reproduces this run")
    try:
        return _execute(cfg, env, run, None, subscribers=subscribers, display=display)
    except LabError:
        _remove_unstarted(run)
        raise


def _remove_unstarted(run: RunDir) -> None:
    """Remove the folder a run just made when bad input stopped it before it started (no checkpoint, no start)."""
    started = any(e.get("event") == RunStarted.__name__ for e in read_events(run.events_path))
    if not started and not run.checkpoints():
        import shutil

        shutil.rmtree(run.path, ignore_errors=True)


def resume(run_dir: str | Path, *, subscribers: Sequence[Any] = (), display: bool = True) -> TrainResult:
    """Continue a run from its latest checkpoint to its original budget (or restart it if it has none)."""
    run = RunDir.open(run_dir)
    cfg = resolve_config(config_file=str(run.config_path))
    if _finished_already(run):
        events = read_events(run.events_path)
        ev = next((e for e in reversed(events) if e.get("event") == EvalCompleted.__name__), None)
        summary = {k: ev[k] for k in ("mean_return", "std_return", "episodes")} if ev else None
        return TrainResult(run.path, "finished", int(events[-1].get("step", 0)), 0.0, summary, reason="already finished")
    env = _checked_env(cfg)  # before touching the run's files
    state = None
    if run.latest_checkpoint() is not None:
        ckpt, state = run.load_checkpoint()
        if state.get("format") != CHECKPOINT_FORMAT or "agent" not in state or "step" not in state:
            raise RunDirError(f"{ckpt.path}: not a lab checkpoint")
        if state.get("algo") != cfg.algo:
            raise RunDirError(f"{ckpt.path} holds a {state.get('algo')!r} agent but {run.config_path} says {cfg.algo!r}")
        roll_back(run.events_path, int(state["step"]), ckpt.path.name)
    else:
        roll_back(run.events_path, -1, None)
    run.clean_temporaries()
    return _execute(cfg, env, run, state, subscribers=subscribers, display=display)
