"""TensorBoard scalars as an event subscriber: ``tensorboard --logdir runs`` shows every run.

Writes what SB3's own TensorBoard output holds (``rollout/ep_rew_mean``, ``train/*``, ``time/*``: the
metrics the agent publishes) plus the lab's evaluations as SB3's ``EvalCallback`` names them
(``eval/mean_reward``, ``eval/std_reward``), under ``RUN/tb/``, with the environment step as x-axis.
TensorBoard is an optional dependency (``pip install 'lab[tensorboard]'``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lab.errors import MissingDependencyError
from lab.events import EvalCompleted, EventBus, MetricsLogged, RunFailed, RunFinished, RunInterrupted

__all__ = ["TensorBoardWriter"]


class TensorBoardWriter:
    """Subscriber writing scalars with ``torch.utils.tensorboard.SummaryWriter``."""

    def __init__(self, log_dir: str | Path) -> None:
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            raise MissingDependencyError(
                "--tensorboard needs the tensorboard package: pip install tensorboard (or 'lab[tensorboard]')"
            ) from None
        self.log_dir = Path(log_dir)
        self._writer: Any = SummaryWriter(log_dir=str(self.log_dir))

    def attach(self, bus: EventBus) -> None:
        bus.subscribe(MetricsLogged, self.on_metrics)
        bus.subscribe(EvalCompleted, self.on_eval)
        for end in (RunFinished, RunInterrupted, RunFailed):
            bus.subscribe(end, lambda _e: self._writer.flush())

    def on_metrics(self, e: MetricsLogged) -> None:
        for key, value in e.metrics.items():
            self._writer.add_scalar(key, value, e.step)

    def on_eval(self, e: EvalCompleted) -> None:
        self._writer.add_scalar("eval/mean_reward", e.mean_return, e.step)
        self._writer.add_scalar("eval/std_reward", e.std_return, e.step)

    def state_dict(self) -> dict[str, Any]:
        return {"log_dir": str(self.log_dir)}

    def close(self) -> None:
        self._writer.close()
