"""``lab dream ENV``: learn a simulator of ENV from real rollouts and train an agent only inside it.

Each iteration (Dyna / MBPO style, Sutton 1991; Janner et al. 2019):

1. collect ``steps_per_iteration`` real steps: random play first, then the latest agent (with
   ``random_share`` of its actions random); earlier collections are kept (cached), never collected again;
2. train a world model (``world``: ``dynamics``) on all of them: ``OUT/world-<i>``, an ordinary generator run;
3. train the agent (``algo``) for ``agent_steps`` steps inside it, ``world:OUT/world-<i>``: ``OUT/agent-<i>``;
4. evaluate the agent on the real environment (``eval_episodes`` episodes); stop once the mean return reaches
   ``target`` or the real-step budget ``real_steps`` is spent.

Every phase is an ordinary run folder (resumable, inspectable with ``lab eval``); ``OUT/events.jsonl`` records
the loop's own events (real steps collected, each iteration's real return) and ``OUT/dream.json`` the summary.
Real steps are counted twice over: ``real_steps`` (the transitions the world models learned from, what the
budget limits) and ``eval_steps`` (real episodes played only to measure the agents).
"""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lab import atomic
from lab.errors import ConfigError, LabError
from lab.eventlog import EventLog
from lab.events import Event, EventBus

__all__ = ["DreamConfig", "RealStepsCollected", "DreamIteration", "dream"]


@dataclass
class DreamConfig:
    """The loop's settings (``lab dream --help``)."""

    env: str = "CartPole-v1"
    """The real environment."""
    algo: str = "ppo"
    """The agent trained inside the world model."""
    world: str = "dynamics"
    """The world-model generator."""
    real_steps: int = 20_000
    """Budget of real transitions collected for the world models."""
    steps_per_iteration: int = 2_000
    """Real steps collected per iteration (random play in the first)."""
    world_steps: int = 2_000
    """Optimizer steps of each world model."""
    agent_steps: int = 50_000
    """Agent steps inside the world model per iteration."""
    iterations: int = 8
    """At most this many iterations."""
    random_share: float = 0.1
    """Share of random actions while the agent collects (exploration)."""
    target: float | None = None
    """Stop once the real mean return reaches this (default: the env's reward threshold)."""
    eval_episodes: int = 10
    """Real episodes per evaluation."""
    seed: int = 0
    """Seed of every run of the loop and of the real episodes collected (`data.split_seed`)."""
    agent_sets: tuple[str, ...] = ()
    """Extra `--set` overrides of the agent runs (`agent.n_envs=16`)."""
    world_sets: tuple[str, ...] = ()
    """Extra `--set` overrides of the world-model runs."""
    continue_from: str | None = None
    """A trained world-model run of `env`: the first iteration trains the agent inside it (its real steps count)."""

    def __post_init__(self) -> None:
        for name in ("real_steps", "steps_per_iteration", "world_steps", "agent_steps", "iterations", "eval_episodes"):
            if getattr(self, name) < 1:
                raise ConfigError(f"--{name.replace('_', '-')}: expected a positive number, got {getattr(self, name)}")
        if self.steps_per_iteration > self.real_steps:
            raise ConfigError(f"--steps-per-iteration {self.steps_per_iteration:,}: more than the real-step budget "
                              f"--real-steps {self.real_steps:,}")


@dataclass(frozen=True, kw_only=True)
class RealStepsCollected(Event):
    """Real transitions a world model of the loop learned from (``step``: the real steps in total)."""

    iteration: int
    collected: int
    """Real steps collected in this iteration (0 when every player's rollouts were cached)."""
    source: str
    """Who played: random, or the agent run folder."""


@dataclass(frozen=True, kw_only=True)
class DreamIteration(Event):
    """One iteration's outcome (``step``: the real steps in total so far)."""

    iteration: int
    world_run: str
    agent_run: str
    mean_return: float
    """Mean return of the agent over the real evaluation episodes."""
    std_return: float
    eval_steps: int
    """Real steps the evaluation episodes took (not given to any model)."""
    world_one_step: float | None = None
    world_open_loop_20: float | None = None


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _train(algo: str, env: str, steps: int, run_dir: Path, seed: int, sets: list[str], display: bool) -> Any:
    from lab import training

    if (run_dir / "config.yaml").is_file():  # a loop resumed: finish (or reuse) the run it started
        return training.resume(run_dir, display=display)
    cfg = training.resolve_config(algo=algo, env=env, sets=sets, flags={"steps": steps, "seed": seed, "track": False})
    return training.train(cfg, run_dir=run_dir, display=display)


def _read_eval(run: Path) -> dict[str, Any]:
    path = Path(run) / "eval.json"
    return json.loads(path.read_text()) if path.is_file() else {}


def _sources_of(world_run: Path) -> list[str]:
    from lab.training.config import resolve_config

    return resolve_config(config_file=str(Path(world_run) / "config.yaml")).agent.data.sources()


def dream(cfg: DreamConfig, out: str | Path, *, display: bool = True) -> dict[str, Any]:
    """Run the loop into ``out`` (see the module docstring); returns the summary written to ``out/dream.json``."""
    from lab.envs import resolve_env
    from lab.registry import AGENTS, GENERATORS
    from lab.training import evaluate_run

    info = resolve_env(cfg.env)
    if info.kind != "gym":
        raise LabError(f"lab dream {cfg.env}: a {info.kind}, not a single-agent Gymnasium environment")
    if cfg.algo not in AGENTS:
        raise LabError(f"--algo {cfg.algo}: not an agent (`lab list agents`)")
    if cfg.world not in GENERATORS or not getattr(GENERATORS.load(cfg.world), "world_model", None):
        worlds = [n for n in GENERATORS.names() if getattr(GENERATORS.load(n), "world_model", None)]
        raise LabError(f"--world {cfg.world}: not a world model; choices: {', '.join(worlds)}")
    first_world: Path | None = None
    real = 0
    if cfg.continue_from is not None:
        from lab.world import load_world_model

        model = load_world_model(cfg.continue_from, where="--continue-from ")
        if model.env_id != cfg.env:
            raise LabError(f"--continue-from {cfg.continue_from}: a world model of {model.env_id}, not of {cfg.env}")
        first_world, real = Path(cfg.continue_from), int(model.data.real_steps)
    target = cfg.target if cfg.target is not None else info.reward_threshold
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    bus = EventBus()
    log = EventLog(out / "events.jsonl")
    log.attach(bus)
    sources: list[str] = ["random"]
    eval_steps, history = 0, []
    t0 = time.perf_counter()
    summary: dict[str, Any] = {}
    try:
        for it in range(1, cfg.iterations + 1):
            if real + cfg.steps_per_iteration > cfg.real_steps:
                _say(f"dream: the next collection would pass the real-step budget ({real:,} + "
                     f"{cfg.steps_per_iteration:,} > {cfg.real_steps:,}); stopping")
                break
            world_run, agent_run = out / f"world-{it}", out / f"agent-{it}"
            if it == 1 and first_world is not None:
                world_run, weval = first_world, _read_eval(first_world)
                sources = [f for f in _sources_of(first_world)]
                bus.publish(RealStepsCollected(step=real, iteration=it, collected=0, source=str(first_world)))
            else:
                # 1. + 2. collect (in the world model's data loading, cached per player) and train the world model
                sets = [f"data.policy={','.join(sources)}", f"data.steps={cfg.steps_per_iteration}",
                        f"data.random_share={cfg.random_share}", f"data.split_seed={cfg.seed}", *cfg.world_sets]
                real += cfg.steps_per_iteration
                _say(f"dream {it}/{cfg.iterations}: real steps {real:,}/{cfg.real_steps:,} (playing: {sources[-1]}); "
                     f"training {cfg.world} -> {world_run}")
                bus.publish(RealStepsCollected(step=real, iteration=it, collected=cfg.steps_per_iteration,
                                               source=sources[-1]))
                w = _train(cfg.world, f"rollouts:{cfg.env}", cfg.world_steps, world_run, cfg.seed, sets, display)
                weval = w.eval or _read_eval(world_run)
            # 3. the agent, only inside the world model
            _say(f"dream {it}/{cfg.iterations}: training {cfg.algo} {cfg.agent_steps:,} steps inside "
                 f"world:{world_run} -> {agent_run}")
            _train(cfg.algo, f"world:{world_run}", cfg.agent_steps, agent_run, cfg.seed, list(cfg.agent_sets), display)
            # 4. the real environment judges
            event, extra = evaluate_run(str(agent_run), episodes=cfg.eval_episodes, env_id=cfg.env)
            steps = int(round(extra.get("mean_length", 0) * cfg.eval_episodes))
            eval_steps += steps
            row = {"iteration": it, "real_steps": real, "eval_steps": eval_steps, "mean_return": event.mean_return,
                   "std_return": event.std_return, "world_run": str(world_run), "agent_run": str(agent_run),
                   "world_one_step": weval.get("one_step"), "world_open_loop_20": weval.get("open_loop_20")}
            history.append(row)
            bus.publish(DreamIteration(step=real, iteration=it, world_run=str(world_run), agent_run=str(agent_run),
                                       mean_return=event.mean_return, std_return=event.std_return, eval_steps=steps,
                                       world_one_step=row["world_one_step"],
                                       world_open_loop_20=row["world_open_loop_20"]))
            _say(f"dream {it}/{cfg.iterations}: real return {event.mean_return:.1f} ± {event.std_return:.1f} over "
                 f"{cfg.eval_episodes} episodes after {real:,} real steps (+{eval_steps:,} evaluation steps)")
            sources.append(str(agent_run))
            summary = {"env": cfg.env, "algo": cfg.algo, "world": cfg.world, "target": target,
                       "solved": target is not None and event.mean_return >= target, "real_steps": real,
                       "eval_steps": eval_steps, "iterations": history, "seconds": time.perf_counter() - t0,
                       "config": dataclasses.asdict(cfg)}
            atomic.write_json(out / "dream.json", summary)
            if summary["solved"]:
                break
    finally:
        log.close() if hasattr(log, "close") else None
    return summary


def format_summary(summary: dict[str, Any]) -> str:
    rows = summary.get("iterations", [])
    lines = [f"{'iter':>4} {'real steps':>11} {'eval steps':>11} {'real return':>14}  world one-step / open-loop 20"]
    for r in rows:
        ws = "-" if r["world_one_step"] is None else f"{r['world_one_step']:.3g} / {r['world_open_loop_20'] or 0:.3g}"
        lines.append(f"{r['iteration']:>4} {r['real_steps']:>11,} {r['eval_steps']:>11,} "
                     f"{r['mean_return']:>8.1f} ± {r['std_return']:<5.1f} {ws}")
    verdict = "solved" if summary.get("solved") else "not solved"
    lines.append(f"{verdict} (target {summary.get('target')}) with {summary.get('real_steps', 0):,} real steps; "
                 f"{json.dumps(summary.get('env'))} in {summary.get('seconds', 0):.0f} s")
    return "\n".join(lines)
