"""Checkpoints and the final model: subscribers that snapshot the agent atomically (the format is in lab.runs)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lab.events import CheckpointSaved, EventBus, RunFinished, SafePoint
from lab.runs import CHECKPOINT_FORMAT, RunDir, agent_checkpoint_state, save_state

__all__ = ["CheckpointWriter", "FinalModelWriter", "CHECKPOINT_FORMAT"]


class CheckpointWriter:
    """Writes ``checkpoints/step_<N>.pt`` every ``every`` steps (at the first safe point past each multiple).

    Args:
        run: the run folder.
        every: steps between checkpoints; 0 writes only when :meth:`save` is called.
        keep: how many of the latest checkpoints to keep.
        meta: extra plain values stored in every checkpoint (algo, env, ...).
    """

    def __init__(self, run: RunDir, every: int, keep: int = 3, meta: Callable[[], dict[str, Any]] | None = None) -> None:
        self.run = run
        self.every = max(0, int(every))
        self.keep = keep
        self.meta = meta or dict
        self.next_due = self.every
        self.last_step: int | None = None
        self._bus: EventBus | None = None

    def attach(self, bus: EventBus) -> None:
        self._bus = bus
        bus.subscribe(SafePoint, self.on_safe_point)

    def start_at(self, step: int) -> None:
        """Align the schedule after resuming at ``step``."""
        self.last_step = step
        if self.every:
            self.next_due = (step // self.every + 1) * self.every

    def on_safe_point(self, event: SafePoint) -> None:
        if self.every and event.step >= self.next_due and event.agent is not None:
            self.save(event.agent, event.step)

    def save(self, agent: Any, step: int) -> str:
        """Checkpoint ``agent`` at ``step`` now (skipped if this step is already saved)."""
        if step == self.last_step and self.run.latest_checkpoint() is not None:
            return str(self.run.latest_checkpoint().path)
        state = agent_checkpoint_state(step, agent.state_dict(full=True), **self.meta())
        path = self.run.save_checkpoint(step, state, keep=self.keep)
        self.start_at(step)
        if self._bus is not None:
            self._bus.publish(CheckpointSaved(step=step, path=str(path)))
        return str(path)


class FinalModelWriter:
    """Writes ``model.pt`` (what the agent needs to act, no optimizer or replay buffer) when the run finishes."""

    def __init__(self, run: RunDir, meta: Callable[[], dict[str, Any]] | None = None) -> None:
        self.run = run
        self.meta = meta or dict

    def attach(self, bus: EventBus) -> None:
        bus.subscribe(RunFinished, self.on_finished)

    def on_finished(self, event: RunFinished) -> None:
        if event.agent is not None:
            save_state(agent_checkpoint_state(event.step, event.agent.state_dict(full=False), **self.meta()),
                       self.run.model_path)
