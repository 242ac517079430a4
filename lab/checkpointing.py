"""The checkpoint writer: a subscriber that snapshots the agent at safe points, atomically."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lab.events import CheckpointSaved, EventBus, SafePoint
from lab.runs import RunDir

__all__ = ["CheckpointWriter", "CHECKPOINT_FORMAT"]

CHECKPOINT_FORMAT = "lab-checkpoint/1"


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
        state = {"format": CHECKPOINT_FORMAT, "step": int(step), **self.meta(), "agent": agent.state_dict(full=True)}
        path = self.run.save_checkpoint(step, state, keep=self.keep)
        self.start_at(step)
        if self._bus is not None:
            self._bus.publish(CheckpointSaved(step=step, path=str(path)))
        return str(path)
