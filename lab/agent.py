"""The contract every agent plugin meets, so ``lab train``, ``lab eval``, sweeps and tests can drive it.

An agent is a class registered in ``lab.agents`` (``"module:Class"``). ``lab train`` resolves its
config, builds it, hands it a :class:`TrainContext` and calls :meth:`Agent.learn`. The agent does the
training and *publishes* what happens (``EpisodeEnded``, ``MetricsLogged`` and, whenever its state is
consistent, ``SafePoint``); it never calls loggers, writes checkpoints or runs periodic evaluations
itself: subscribers on the bus do that.

:class:`Trainable` is the part of the contract the run machinery (lab.training) drives: anything
``lab train`` trains meets it. :class:`Agent` adds what is specific to agents on environments. Six
optional capabilities are small protocols of their own; an agent that has one gets the feature:

* :class:`ReadsZooHyperparams` (``from_zoo``): ``lab train --hyperparams FILE`` (rl-baselines3-zoo files);
* :class:`HasDefaultThreads` (``default_threads``): the torch thread count when the config sets none;
* :class:`RendersEpisodes` (``render_episode``): ``lab eval --video``;
* :class:`MeasuresEpisodes` (``evaluate_episodes``): ``lab eval`` also reports mean episode lengths;
* :class:`CountsUpdates` (``updates``): the run's summary and ``eval.json`` say how many updates it made
  (a run that made none says it is untrained; a sweep does not rank it);
* :class:`ChecksBudget` (``check_budget``): a budget too small for a single update is refused up front.

``tests/agents/test_agent_contract.py`` checks every registered agent against all of them.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, runtime_checkable

from lab.envs import EnvInfo
from lab.events import EventBus, StopRequested

if TYPE_CHECKING:
    import numpy as np

__all__ = [
    "Trainable",
    "Agent",
    "Budget",
    "TrainContext",
    "ReadsZooHyperparams",
    "HasDefaultThreads",
    "RendersEpisodes",
    "MeasuresEpisodes",
    "CountsUpdates",
    "ChecksBudget",
    "OPTIONAL_CAPABILITIES",
    "default_threads",
]


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
class Trainable(Protocol):
    """What the run machinery drives: built from its ``Config``, trained by ``learn``, checkpointed, evaluated."""

    Config: ClassVar[type]
    """Dataclass of the hyperparameters (one docstring per field)."""

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
        """Deterministic evaluation: one score per episode (a return, a game score)."""
        ...


@runtime_checkable
class Agent(Trainable, Protocol):
    """An agent plugin. See ``agents/sb3/agent.py`` and ``agents/alphazero/agent.py`` for the two families."""

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


# --- optional capabilities ---------------------------------------------------------------------


@runtime_checkable
class ReadsZooHyperparams(Protocol):
    """Optional: the agent reads rl-baselines3-zoo hyperparameter files (``lab train --hyperparams FILE``)."""

    @classmethod
    def from_zoo(cls, entry: dict[str, Any], where: str = "") -> tuple[dict[str, Any], list[str]]:
        """Translate one environment's entry of a zoo file.

        Args:
            entry: the entry's hyperparameters as the zoo spells them.
            where: ``file:line`` of the entry, for error messages.

        Returns:
            A config layer (run keys such as ``steps``, agent keys under ``"agent"``) and the zoo keys
            that were not understood (reported to the user, not used).
        """
        ...


@runtime_checkable
class HasDefaultThreads(Protocol):
    """Optional: the torch CPU thread count a run uses when its config sets none (``threads: null``)."""

    default_threads: ClassVar[int]


@runtime_checkable
class RendersEpisodes(Protocol):
    """Optional: the agent renders an episode as frames (``lab eval --video``)."""

    def render_episode(self, *, seed: int, max_frames: int = 2000) -> tuple[list[np.ndarray], float]:
        """RGB frames (``(H, W, 3)`` uint8 arrays) of one deterministic episode, and its return."""
        ...


@runtime_checkable
class MeasuresEpisodes(Protocol):
    """Optional: deterministic evaluation that also returns episode lengths (``lab eval`` reports their mean)."""

    def evaluate_episodes(self, episodes: int, *, seed: int) -> tuple[list[float], list[int]]:
        """Returns and lengths of ``episodes`` deterministic episodes; the returns equal ``evaluate``'s."""
        ...


@runtime_checkable
class CountsUpdates(Protocol):
    """Optional: the agent counts its updates (gradient steps), checkpointed with it."""

    updates: int
    """Updates made so far over the whole run (resumed parts included); 0 until the first."""


@runtime_checkable
class ChecksBudget(Protocol):
    """Optional: the agent knows when its first update happens, so a budget that allows none is refused."""

    @classmethod
    def check_budget(cls, cfg: Any, steps: int | None) -> str | None:
        """``None`` if a run of ``steps`` (``None``: the default budget) makes at least one update with ``cfg``;
        else one line saying why it makes none and what budget would."""
        ...


OPTIONAL_CAPABILITIES: tuple[type, ...] = (
    ReadsZooHyperparams, HasDefaultThreads, RendersEpisodes, MeasuresEpisodes, CountsUpdates, ChecksBudget,
)
"""Every optional capability; the contract test checks each one an agent declares."""


def default_threads(agent_cls: type) -> int | None:
    """The agent's ``default_threads``, or None when it declares none."""
    return agent_cls.default_threads if isinstance(agent_cls, HasDefaultThreads) else None
