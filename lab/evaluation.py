"""Deterministic evaluation: the periodic evaluator subscriber and ``eval.json``."""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Sequence
from typing import Any

from lab import atomic
from lab.events import EvalCompleted, EventBus, SafePoint
from lab.runs import RunDir

__all__ = ["PeriodicEvaluator", "eval_event", "write_eval_json", "EVAL_SEED_OFFSET"]

EVAL_SEED_OFFSET = 10_000
"""Evaluation episodes use seeds ``seed + EVAL_SEED_OFFSET + i``: never the training seeds."""


def eval_event(step: int, returns: Sequence[float], seconds: float = 0.0) -> EvalCompleted:
    returns = [float(r) for r in returns]
    return EvalCompleted(
        step=step,
        mean_return=statistics.fmean(returns) if returns else float("nan"),
        std_return=statistics.pstdev(returns) if len(returns) > 1 else 0.0,
        episodes=len(returns),
        returns=tuple(returns),
        seconds=seconds,
    )


def write_eval_json(run: RunDir, event: EvalCompleted, **extra: Any) -> None:
    """Write ``eval.json`` atomically: mean_return, std_return, episodes, returns, step, plus ``extra``."""
    atomic.write_json(
        run.eval_path,
        {
            "mean_return": event.mean_return,
            "std_return": event.std_return,
            "episodes": event.episodes,
            "returns": list(event.returns),
            "step": event.step,
            **extra,
        },
    )


class PeriodicEvaluator:
    """Evaluates the agent every ``every`` steps (at the first safe point past each multiple)."""

    def __init__(self, every: int, episodes: int, seed: int) -> None:
        self.every = max(0, int(every))
        self.episodes = episodes
        self.seed = seed
        self.next_due = self.every
        self._bus: EventBus | None = None

    def attach(self, bus: EventBus) -> None:
        self._bus = bus
        bus.subscribe(SafePoint, self.on_safe_point)

    def start_at(self, step: int) -> None:
        if self.every:
            self.next_due = (step // self.every + 1) * self.every

    def on_safe_point(self, event: SafePoint) -> None:
        if self.every and event.step >= self.next_due and event.agent is not None:
            self.start_at(event.step)
            t0 = time.perf_counter()
            returns = event.agent.evaluate(self.episodes, seed=self.seed)
            assert self._bus is not None
            self._bus.publish(eval_event(event.step, returns, time.perf_counter() - t0))


def evaluate_run(
    run_dir: str,
    *,
    episodes: int = 10,
    video: bool = False,
    device: str = "auto",
    seed: int | None = None,
) -> tuple[EvalCompleted, dict[str, Any]]:
    """``lab eval``: load a run's final model (or its latest checkpoint), evaluate it deterministically.

    Writes ``eval.json`` (and ``episode.gif``/``.mp4`` with ``video``). Returns the evaluation event
    and a dict of extra facts (step, which file was loaded, the video path).
    """
    from lab.checkpointing import CHECKPOINT_FORMAT
    from lab.envs import resolve_env
    from lab.errors import LabError, RunDirError
    from lab.registry import AGENTS
    from lab.runs import load_state
    from lab.train import resolve_config, resolve_device

    if episodes < 1:
        raise LabError(f"--episodes: expected a positive number, got {episodes}")
    run = RunDir.open(run_dir)
    cfg = resolve_config(config_file=str(run.config_path))
    if run.model_path.exists():
        source = run.model_path
        state = load_state(source)
    else:
        ckpt, state = run.load_checkpoint()
        source = ckpt.path
    if state.get("format") != CHECKPOINT_FORMAT or "agent" not in state:
        raise RunDirError(f"{source}: not a lab model file")
    agent_cls = AGENTS.load(cfg.algo)
    env = resolve_env(cfg.env)
    agent = agent_cls(cfg.agent, env, seed=cfg.seed, device=resolve_device(device))
    agent.load_state_dict(state["agent"])
    eval_seed = (cfg.seed if seed is None else seed) + EVAL_SEED_OFFSET
    step = int(state.get("step", 0))
    t0 = time.perf_counter()
    event = eval_event(step, agent.evaluate(episodes, seed=eval_seed), time.perf_counter() - t0)
    extra: dict[str, Any] = {"step": step, "source": str(source), "seed": eval_seed}
    write_eval_json(run, event, seed=eval_seed, deterministic=True, source=str(source))
    if video:
        render = getattr(agent, "render_episode", None)
        if render is None:
            raise LabError(f"--video: {cfg.algo} agents cannot render episodes")
        from lab.video import write_video

        # rgb_array rendering needs no display: keep pygame/SDL from looking for one
        os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
        os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
        frames, _ret = render(seed=eval_seed)
        extra["video"] = str(write_video(frames, run.path / "episode", fps=float(env.render_fps or 30)))
    return event, extra
