"""Running a training: make (or reopen) the run folder, build the agent, attach the subscribers, drive it.

The driver only sequences the run's phases; everything the run writes is a subscriber on its bus:
``events.jsonl``, checkpoints, periodic evaluations, the progress display and W&B while it trains, and
``model.pt``, ``eval.json`` and ``curve.png`` on ``RunFinished``. :func:`execute` is written against
:class:`lab.agent.Trainable`; only :func:`build_agent` knows how an agent is made from a config and an env.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from lab import crashlog
from lab.agent import Budget, ChecksBudget, TrainContext, Trainable, default_threads
from lab.config import save_yaml, to_dict
from lab.device import resolve_device
from lab.envs import EnvInfo
from lab.errors import LabError, warn
from lab.evaluation import EVAL_SEED_OFFSET, PeriodicEvaluator
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
from lab.runs import AgentCheckpoint, RunDir, check_agent_checkpoint, default_run_dir
from lab.training.checkpoints import CheckpointWriter, FinalModelWriter
from lab.training.config import TrainConfig, config_env, is_generator, resolve_config, trainable_class
from lab.training.outputs import CurveWriter, EvalFileWriter
from lab.training.samples import SampleEvaluator, SampleGridWriter, SamplesFileWriter
from lab.training.tracking import WandbLogger

__all__ = ["TrainResult", "train", "resume", "check_fits", "check_budget", "check_config", "build_agent", "execute"]


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
    updates: int | None = None
    """Updates the agent made over the whole run (None: it does not count them); 0: untrained."""


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


def check_budget(cfg: TrainConfig) -> None:
    """Refuse a budget in which the agent would make no update (agents with ``check_budget``)."""
    if is_generator(cfg.algo):
        return
    agent_cls = AGENTS.load(cfg.algo)
    if isinstance(agent_cls, ChecksBudget):
        reason = agent_cls.check_budget(cfg.agent, cfg.steps)
        if reason is not None:
            raise LabError(reason)


def check_config(cfg: TrainConfig) -> Any:
    """What the trainable trains on, checked before any file is written (what ``lab train``, ``lab config`` and
    ``lab sweep --check`` all check): an agent's environment (probed once, its spaces checked against the agent)
    or a generator's data set (loaded by the generator class)."""
    if is_generator(cfg.algo):
        return trainable_class(cfg.algo).load_data(cfg.env, cfg.agent)
    env = config_env(cfg)
    check_fits(cfg.algo, AGENTS.load(cfg.algo), env)
    return env



# --- the agent ---------------------------------------------------------------------------------


def _seed_everything(seed: int) -> None:
    import random

    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def build_agent(cfg: TrainConfig, env: Any, device: str, checkpoint: AgentCheckpoint | None) -> Trainable:
    """The config's agent on ``env`` (a generator on its data set): torch threads set, everything seeded, the
    checkpoint's state loaded."""
    agent_cls = trainable_class(cfg.algo)
    threads = cfg.threads or default_threads(agent_cls)
    if threads:
        import torch

        torch.set_num_threads(threads)
    _seed_everything(cfg.seed)
    agent = agent_cls(cfg.agent, env, seed=cfg.seed, device=device)
    if checkpoint is not None:
        agent.load_state_dict(checkpoint.agent)
    return agent


# --- the run -----------------------------------------------------------------------------------


@contextlib.contextmanager
def _stop_on_signals(ctx: TrainContext, reasons: list[str]) -> Iterator[None]:
    """First Ctrl-C (or SIGTERM) asks the agent to stop at its next safe point; a second one aborts."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        if ctx.stop_event.is_set():
            raise KeyboardInterrupt
        reasons.append("Ctrl-C" if signum == signal.SIGINT else "SIGTERM")
        ctx.stop_event.set()
        print("\nstopping at the next safe point (press Ctrl-C again to abort)...", file=sys.stderr)
        previous = old.get(signum)
        if callable(previous) and previous is not signal.default_int_handler:
            previous(signum, frame)  # a caller's own handler (a sweep running this trial inline) hears it too

    old: dict[int, Any] = {}
    old.update({s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)})
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


class LastMetrics:
    """Subscriber keeping the last value of every metric (and evaluation) for :attr:`TrainResult.metrics`."""

    def __init__(self) -> None:
        self.values: dict[str, float] = {}

    def attach(self, bus: EventBus) -> None:
        bus.subscribe(MetricsLogged, lambda e: self.values.update(e.metrics))
        bus.subscribe(EvalCompleted, self.on_eval)

    def on_eval(self, e: EvalCompleted) -> None:
        self.values["eval/mean_return"] = e.mean_return
        self.values["eval/std_return"] = e.std_return


def _checkpoint_every(cfg: TrainConfig, budget: Budget) -> int:
    if cfg.checkpoint_every is not None:
        return cfg.checkpoint_every
    return max(1, int(budget.total // 10)) if budget.unit == "steps" else 1


@contextlib.contextmanager
def _attached(bus: EventBus, subscribers: Sequence[Any]) -> Iterator[None]:
    """Attach ``subscribers`` in order; close those that have ``close()`` however the run ends."""
    for sub in subscribers:
        sub.attach(bus)
    try:
        yield
    finally:
        for sub in subscribers:
            close = getattr(sub, "close", None)
            if close is not None:
                close()


def _learn(agent: Trainable, ctx: TrainContext, steps: int | None, reasons: list[str]) -> str | None:
    """Train; returns why the run stopped early, or None when it reached its budget. Errors publish RunFailed."""
    try:
        with _stop_on_signals(ctx, reasons):
            agent.learn(ctx, steps)
    except BaseException as e:
        ctx.bus.publish(RunFailed(step=agent.step, error=f"{type(e).__name__}: {e}"))
        raise
    if ctx.should_stop():
        return reasons[0] if reasons else "stop requested"
    return None


def _evaluator_and_outputs(cfg: TrainConfig, run: RunDir, eval_seed: int) -> tuple[Any, list[Any]]:
    """The evaluator and the final-file writers of the run's kind: agents get returns, ``eval.json`` and
    ``curve.png``; generators get sample metrics in ``eval.json`` and sample grids."""
    if is_generator(cfg.algo):
        return SampleEvaluator(cfg.eval_every, eval_seed), [SamplesFileWriter(run), SampleGridWriter(run)]
    evaluator = PeriodicEvaluator(cfg.eval_every, cfg.eval_episodes, eval_seed)
    return evaluator, [EvalFileWriter(run, seed=eval_seed, deterministic=True),
                       CurveWriter(run, title=f"{cfg.algo} on {cfg.env}")]


def execute(
    cfg: TrainConfig,
    run: RunDir,
    agent: Trainable,
    *,
    device: str,
    start: int = 0,
    resumed: bool = False,
    subscribers: Sequence[Any] = (),
    display: bool = True,
    started: float | None = None,
) -> TrainResult:
    """Drive ``agent`` through one run (or the rest of one) in ``run``, from step ``start``.

    ``started``: ``time.perf_counter()`` when this process began the run's work (default: now); the
    result's and ``RunFinished``'s seconds count from it.
    """
    t0 = time.perf_counter() if started is None else started
    budget = agent.budget(cfg.steps)
    eval_seed = cfg.seed + EVAL_SEED_OFFSET
    meta = lambda: {"algo": cfg.algo, "env": cfg.env}  # noqa: E731
    writer = CheckpointWriter(run, _checkpoint_every(cfg, budget), cfg.keep_checkpoints, meta=meta)
    evaluator, outputs = _evaluator_and_outputs(cfg, run, eval_seed)
    last = LastMetrics()
    subs: list[Any] = [EventLog(run.events_path), writer, evaluator, last, FinalModelWriter(run, meta), *outputs]
    if display:
        from lab.training.progress import ProgressDisplay

        subs.append(ProgressDisplay(metrics=getattr(type(agent), "progress_metrics", ())))
    if cfg.track:
        subs.append(WandbLogger(cfg.wandb, run.path))
    if cfg.tensorboard:
        from lab.training.tensorboard import TensorBoardWriter

        subs.append(TensorBoardWriter(run.path / "tb"))
    subs.extend(subscribers)
    bus = EventBus()
    with _attached(bus, subs):
        writer.start_at(start)
        evaluator.start_at(start)
        ctx = TrainContext(bus=bus, run_dir=run.path, device=device)
        reasons: list[str] = []
        bus.subscribe(StopRequested, lambda e: reasons.append(e.reason or "stop requested"))
        bus.publish(RunStarted(
            step=start, run_dir=str(run.path), algo=cfg.algo, env=cfg.env, config=to_dict(cfg),
            total=budget.total, unit=budget.unit, done=budget.done, resumed_from=start if resumed else None,
        ))
        stopped = _learn(agent, ctx, cfg.steps, reasons)
        step = agent.step
        writer.save(agent, step)
        if stopped is not None:
            bus.publish(RunInterrupted(step=step, reason=stopped))
            return TrainResult(run.path, "stopped", step, time.perf_counter() - t0, None, dict(last.values), stopped)
        final = evaluator.evaluate(agent, step)
        seconds = time.perf_counter() - t0
        updates = getattr(agent, "updates", None)
        updates = None if updates is None else int(updates)
        bus.publish(RunFinished(step=step, seconds=seconds, updates=updates, agent=agent))
        if isinstance(final, EvalCompleted):
            summary = {"mean_return": final.mean_return, "std_return": final.std_return, "episodes": final.episodes}
        else:
            summary = SampleEvaluator.summary(final)
        return TrainResult(run.path, "finished", step, seconds, summary, dict(last.values), updates=updates)


# --- train and resume --------------------------------------------------------------------------


def _new_run_path(cfg: TrainConfig, run_dir: str | Path | None) -> Path:
    if run_dir is not None:
        return Path(run_dir)
    base = default_run_dir(cfg.algo, cfg.env)
    path, n = base, 1
    while path.exists():
        n += 1
        path = base.with_name(f"{base.name}-{n}")
    return path


def train(
    cfg: TrainConfig,
    *,
    run_dir: str | Path | None = None,
    subscribers: Sequence[Any] = (),
    display: bool = True,
    sources: dict[str, str] | None = None,
) -> TrainResult:
    """Train a new run. The run folder must not exist yet (or be empty).

    Args:
        cfg: the resolved config (see :func:`lab.training.config.resolve_config`).
        run_dir: where the run goes; default ``runs/<algo>-<env>-<timestamp>``.
        subscribers: extra objects with ``attach(bus)`` (sweeps attach pruners here).
        display: draw the live progress display.
        sources: per dotted key, where its value came from (from :func:`resolve_config`), written into
            the run's ``config.yaml`` as comments.
    """
    env = check_config(cfg)  # before making the folder
    check_budget(cfg)
    device = resolve_device(cfg.device)
    with RunDir.claim(_new_run_path(cfg, run_dir)) as run:
        crashlog.log_to(run.path)
        try:
            header = f"lab train --config {run.config_path}  reproduces this run\n[...]: where each value came from"
            save_yaml(cfg, run.config_path, header=header, sources=sources)
            t0 = time.perf_counter()
            agent = build_agent(cfg, env, device, None)
            return execute(cfg, run, agent, device=device, subscribers=subscribers, display=display, started=t0)
        except (LabError, OSError) as e:
            _remove_unstarted(run)
            if isinstance(e, OSError) and not run.path.exists():
                raise LabError(f"{run.path}: cannot write the run folder ({e.strerror or e})") from None
            raise


def _remove_unstarted(run: RunDir) -> None:
    """Remove the folder a run just made when bad input stopped it before it started (no checkpoint, no start)."""
    started = any(e.get("event") == RunStarted.__name__ for e in read_events(run.events_path))
    if not started and not run.checkpoints():
        if run.made:
            run.remove_made()
        else:  # an empty folder the user made: leave it as it was
            for child in run.path.iterdir():
                if child.is_dir():
                    shutil.rmtree(child, ignore_errors=True)
                else:
                    child.unlink(missing_ok=True)


def _already_finished(run: RunDir) -> TrainResult | None:
    """The result of a run that finished before (its model written, ``RunFinished`` last), else None."""
    events = read_events(run.events_path)
    if not (run.model_path.exists() and events and events[-1].get("event") == RunFinished.__name__):
        return None
    ev = next((e for e in reversed(events) if e.get("event") == EvalCompleted.__name__), None)
    summary = {k: ev[k] for k in ("mean_return", "std_return", "episodes")} if ev else None
    return TrainResult(run.path, "finished", int(events[-1].get("step", 0)), 0.0, summary, reason="already finished")


def resume(run_dir: str | Path, *, subscribers: Sequence[Any] = (), display: bool = True) -> TrainResult:
    """Continue a run from its latest checkpoint to its original budget (or restart it if it has none)."""
    run = RunDir.open(run_dir)
    cfg = resolve_config(config_file=str(run.config_path))
    if not os.access(run.path, os.W_OK) or (run.checkpoints_dir.is_dir() and not os.access(run.checkpoints_dir, os.W_OK)):
        raise LabError(f"{run.path}: the run folder is read-only; --resume writes checkpoints and events there")
    with run.hold():  # one writer: a second --resume of this run stops here, naming the holder
        crashlog.log_to(run.path)
        done = _already_finished(run)
        if done is not None:
            return done
        env = check_config(cfg)  # before touching the run's files
        device = resolve_device(cfg.device)
        checkpoint = None
        if run.latest_checkpoint() is not None:
            ckpt, state = run.load_checkpoint()
            checkpoint = check_agent_checkpoint(state, ckpt.path, algo=cfg.algo, expected_by=str(run.config_path))
            roll_back(run.events_path, checkpoint.step, ckpt.path.name)
            note = getattr(trainable_class(cfg.algo), "resume_differs", None)
            if note:
                warn(f"resuming {run.path} at step {checkpoint.step:,}: {note}")
        else:
            if any(e.get("event") == RunStarted.__name__ for e in read_events(run.events_path)):
                warn(f"{run.path} has no checkpoint (checkpoints/ is empty or missing): restarting the run from step 0")
            roll_back(run.events_path, -1, None)
        run.clean_temporaries()
        t0 = time.perf_counter()
        agent = build_agent(cfg, env, device, checkpoint)
        start = checkpoint.step if checkpoint is not None else 0
        return execute(cfg, run, agent, device=device, start=start, resumed=checkpoint is not None,
                       subscribers=subscribers, display=display, started=t0)
