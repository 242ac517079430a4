"""The contract every agent plugin meets, so ``lab train``, ``lab eval``, sweeps and tests can drive it.

An agent is a class registered in ``lab.agents`` (``"module:Class"``). ``lab train`` resolves its
config, builds it, hands it a :class:`TrainContext` and calls :meth:`Agent.learn`. The agent does the
training and *publishes* what happens (``EpisodeEnded``, ``MetricsLogged`` and, whenever its state is
consistent, ``SafePoint``); it never calls loggers, writes checkpoints or runs periodic evaluations
itself: subscribers on the bus do that.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Protocol, runtime_checkable

from lab.envs import EnvInfo
from lab.events import EventBus, StopRequested

__all__ = ["Agent", "Budget", "TrainContext"]


@dataclass(frozen=True)
class Budget:
    """How long a run trains: ``total`` in ``unit`` (``steps``, ``iterations`` or ``seconds``)."""

    total: float
    unit: str = "steps"
    done: float = 0.0
    """Already used (in ``unit``) when the budget is measured in something other than ``step``, e.g. seconds."""


@dataclass
class TrainContext:
    """What the lab gives an agent's :meth:`Agent.learn`."""

    bus: EventBus
    """Publish events here; subscribers log, checkpoint, evaluate and display them."""
    run_dir: Path
    """The run folder (read-only for agents; subscribers own its files)."""
    device: str = "cpu"
    """Resolved torch device (``cpu`` or ``cuda``)."""
    stop_event: threading.Event = field(default_factory=threading.Event)
    """Set when the run must stop early (Ctrl-C, a pruner, a scheduler)."""

    def __post_init__(self) -> None:
        self.bus.subscribe(StopRequested, lambda _e: self.stop_event.set())

    def should_stop(self) -> bool:
        """True once a stop was requested: save nothing, just return from ``learn`` soon."""
        return self.stop_event.is_set()


@runtime_checkable
class Agent(Protocol):
    """An agent plugin. See ``agents/sb3.py`` and ``agents/alphazero`` for the two families."""

    Config: ClassVar[type]
    """Dataclass of the agent's hyperparameters (one docstring per field)."""

    @classmethod
    def supports(cls, env: EnvInfo) -> str | None:
        """``None`` if the agent can train on ``env``, else one line saying why it cannot."""
        ...

    @classmethod
    def tuned(cls, env_id: str) -> dict[str, Any]:
        """Tuned hyperparameters for ``env_id`` as ``Config`` keys, plus run keys such as ``steps``.

        Returns ``{}`` when there is nothing specific; ``Config``'s defaults are the fallback.
        """
        ...

    def __init__(self, cfg: Any, env: EnvInfo, *, seed: int, device: str) -> None: ...

    @property
    def step(self) -> int:
        """Training progress in the unit of events' ``step`` (environment steps for RL agents)."""
        ...

    def budget(self, steps: int | None) -> Budget:
        """The run's budget given the run-level ``steps`` (``None``: the agent's own default)."""
        ...

    def learn(self, ctx: TrainContext, steps: int | None) -> None:
        """Train until the budget is reached or ``ctx.should_stop()``; publish events as it goes."""
        ...

    def state_dict(self, *, full: bool = True) -> dict[str, Any]:
        """Tensors and plain values only (loadable with ``weights_only=True``).

        ``full=True`` includes everything needed to resume (optimizer, replay buffer, counters);
        ``full=False`` only what is needed to act (the final ``model.pt``).
        """
        ...

    def load_state_dict(self, state: dict[str, Any]) -> None: ...

    def evaluate(self, episodes: int, *, seed: int) -> list[float]:
        """Deterministic evaluation: one return (or game score) per episode."""
        ...
