"""Deterministic evaluation: the periodic evaluator subscriber and ``eval.json`` (``lab eval`` is lab.training.evaluate)."""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence
from typing import Any

from lab import atomic
from lab.events import EvalCompleted, EventBus, SafePoint
from lab.runs import RunDir

__all__ = ["PeriodicEvaluator", "evaluate_agent", "eval_event", "write_eval_json", "EVAL_SEED_OFFSET"]

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


def evaluate_agent(agent: Any, episodes: int, seed: int, step: int) -> EvalCompleted:
    """Run ``agent.evaluate(episodes, seed=seed)`` and time it: the evaluation event for ``step``."""
    t0 = time.perf_counter()
    returns = agent.evaluate(episodes, seed=seed)
    return eval_event(step, returns, time.perf_counter() - t0)


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
            self.evaluate(event.agent, event.step)

    def evaluate(self, agent: Any, step: int) -> EvalCompleted:
        """Evaluate ``agent`` now (the final evaluation of a run) and publish the result."""
        event = evaluate_agent(agent, self.episodes, self.seed, step)
        assert self._bus is not None, "attach() the evaluator to a bus first"
        self._bus.publish(event)
        return event


def __getattr__(name: str) -> Any:
    # Old import path: ``lab eval`` moved to lab.training.evaluate (imported lazily: lab.training imports this module).
    if name == "evaluate_run":
        from lab.training.evaluate import evaluate_run

        return evaluate_run
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
