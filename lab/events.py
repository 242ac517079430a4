"""In-process event bus and the lab's lifecycle events.

Training code publishes frozen dataclass events; subscribers (progress display, ``events.jsonl``,
W&B, checkpoint writer, evaluator, scheduler displays) subscribe by type. Dispatch is synchronous and
in order of subscription; an exception in a handler propagates to the publisher.

>>> bus = EventBus()
>>> seen = []
>>> _ = bus.subscribe(EpisodeEnded, seen.append)
>>> bus.publish(EpisodeEnded(step=10, episode_return=1.5, episode_length=10))
>>> seen[0].episode_return
1.5
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar, TypeVar

__all__ = [
    "Event",
    "EventBus",
    "event_to_dict",
    "RunStarted",
    "MetricsLogged",
    "EpisodeEnded",
    "EvalCompleted",
    "CheckpointSaved",
    "ImagesReady",
    "ImageSaved",
    "SamplesEvaluated",
    "SafePoint",
    "StopRequested",
    "RunInterrupted",
    "RunFinished",
    "RunFailed",
    "LevelDrawn",
]

E = TypeVar("E", bound="Event")
Handler = Callable[[Any], None]


@dataclass(frozen=True, kw_only=True)
class Event:
    """Base of every event: the training step it refers to and the wall-clock time it was made."""

    step: int = 0
    """Environment steps done when the event was published (agent-defined for non-RL jobs)."""
    time: float = field(default_factory=time.time)
    """Unix time at publication."""

    recorded: ClassVar[bool] = True
    """Whether durable logs (``events.jsonl``) keep this event type."""


class EventBus:
    """Synchronous publish/subscribe by event type (subclasses reach handlers of their bases).

    The bus times every handler (``timings``: seconds spent per handler) so slow subscribers show up.
    """

    def __init__(self) -> None:
        self._handlers: dict[type, list[Handler]] = defaultdict(list)
        self._dispatch: dict[type, tuple[Handler, ...]] = {}
        self.timings: dict[str, float] = defaultdict(float)

    def subscribe(self, event_type: type[E], handler: Callable[[E], None]) -> Callable[[], None]:
        """Call ``handler(event)`` for every published ``event_type`` (or subclass); returns an unsubscribe function."""
        if not (isinstance(event_type, type) and issubclass(event_type, Event)):
            raise TypeError(f"subscribe() expects an Event subclass, got {event_type!r}")
        self._handlers[event_type].append(handler)
        self._dispatch.clear()

        def unsubscribe() -> None:
            if handler in self._handlers[event_type]:
                self._handlers[event_type].remove(handler)
                self._dispatch.clear()

        return unsubscribe

    def handlers_for(self, event_type: type) -> tuple[Handler, ...]:
        """Handlers that receive ``event_type``, most general type last, in subscription order."""
        cached = self._dispatch.get(event_type)
        if cached is None:
            cached = tuple(h for base in event_type.__mro__ for h in self._handlers.get(base, ()))
            self._dispatch[event_type] = cached
        return cached

    def publish(self, event: Event) -> None:
        """Deliver ``event`` to its handlers now, in order; handler errors propagate."""
        for handler in self.handlers_for(type(event)):
            t0 = time.perf_counter()
            handler(event)
            self.timings[getattr(handler, "__qualname__", repr(handler))] += time.perf_counter() - t0


def event_to_dict(event: Event) -> dict[str, Any]:
    """The event as a JSON-ready dict: ``{"event": TypeName, "step": ..., "time": ..., <fields>}``.

    Fields holding callables, and fields declared with ``metadata={"recorded": False}``, are left out.
    """
    out: dict[str, Any] = {"event": type(event).__name__}
    for f in fields(event):
        if not f.metadata.get("recorded", True):
            continue
        value = getattr(event, f.name)
        if callable(value) and not isinstance(value, type):
            continue
        out[f.name] = value
    return out


# --- run lifecycle ---------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class RunStarted(Event):
    """A training run began (or resumed from a checkpoint)."""

    run_dir: str
    algo: str
    env: str
    config: dict[str, Any]
    """The fully resolved config, as saved in ``config.yaml``."""
    total: float | None = None
    """Budget in ``unit`` (steps, iterations or seconds); ``None`` when open-ended."""
    unit: str = "steps"
    done: float = 0.0
    """Budget already used, in ``unit`` (a resumed time-budget run's elapsed seconds)."""
    resumed_from: int | None = None
    """Step of the checkpoint this run resumed from, if any."""


@dataclass(frozen=True, kw_only=True)
class MetricsLogged(Event):
    """Scalar metrics, keyed like ``train/loss`` or ``rollout/ep_rew_mean``."""

    metrics: dict[str, float]


@dataclass(frozen=True, kw_only=True)
class EpisodeEnded(Event):
    """A training episode finished."""

    episode_return: float
    episode_length: int


@dataclass(frozen=True, kw_only=True)
class EvalCompleted(Event):
    """A deterministic evaluation finished."""

    mean_return: float
    std_return: float
    episodes: int
    returns: tuple[float, ...] = ()
    seconds: float = 0.0
    """Wall-clock seconds the evaluation took (benchmarks subtract it from training time)."""


@dataclass(frozen=True, kw_only=True)
class CheckpointSaved(Event):
    """A checkpoint was written atomically and is loadable."""

    path: str


@dataclass(frozen=True, kw_only=True)
class ImagesReady(Event):
    """Images to show (a generator's samples): subscribers tile them into a grid PNG and send it to W&B.

    ``images`` is an (N, C, H, W) array in [0, 1]; not written to logs (``ImageSaved`` is).
    """

    key: str = "samples"
    images: Any = None
    invert: bool = False
    """Show 1 as black (data sets where 1 = ink)."""
    nrow: int | None = None
    """Images per grid row (None: a square); conditional samples use one column per class."""
    recorded: ClassVar[bool] = False


@dataclass(frozen=True, kw_only=True)
class ImageSaved(Event):
    """An image (a sample grid) was written to the run folder."""

    key: str
    path: str


@dataclass(frozen=True, kw_only=True)
class SamplesEvaluated(Event):
    """A generator's samples were scored offline (``fd``, ``coverage``, ... and their references)."""

    results: dict[str, Any]
    """What ``eval.json`` holds: each metric, ``<metric>_real`` and ``<metric>_gmm``, and the details."""


@dataclass(frozen=True, kw_only=True)
class SafePoint(Event):
    """The agent's state is consistent at ``step``: subscribers may snapshot or evaluate it now.

    ``agent`` is the live agent object (``state_dict()``, ``evaluate()``); not written to logs.
    """

    agent: Any = None
    recorded: ClassVar[bool] = False


@dataclass(frozen=True, kw_only=True)
class StopRequested(Event):
    """Someone asked the run to stop early (Ctrl-C, a scheduler, a pruner)."""

    reason: str = ""


@dataclass(frozen=True, kw_only=True)
class RunInterrupted(Event):
    """The run stopped before its budget after saving a checkpoint; it can be resumed."""

    reason: str = ""


@dataclass(frozen=True, kw_only=True)
class RunFinished(Event):
    """The run reached its budget and its final evaluation is published; subscribers write the final outputs
    (``model.pt``, ``eval.json``, ``curve.png``)."""

    seconds: float = 0.0
    """Wall-clock seconds of this process's part of the run."""
    updates: int | None = None
    """Updates (gradient steps) the agent made over the whole run; 0: it is the untrained initial policy.
    None: the agent does not count them."""
    agent: Any = field(default=None, compare=False, repr=False, metadata={"recorded": False})
    """The trained agent (``state_dict()``); not written to logs."""


@dataclass(frozen=True, kw_only=True)
class RunFailed(Event):
    """The run stopped on an error."""

    error: str


# --- generative data sources ---------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class LevelDrawn(Event):
    """An environment drew a level from its level source on reset (envs report these in ``info["lab_events"]``).

    ``rejections`` draws were refused before this one; ``outcome`` says what became of the level kept:
    ``ok`` (valid as drawn), ``repaired`` (fixed in place), or ``fallback`` (the source failed
    ``rejections`` times and a procedural level was used instead).
    """

    source: str
    """The level source, as the env names it (``procedural``, ``file:levels.txt``, ``generator:RUN``)."""
    level_hash: str
    outcome: str = "ok"
    rejections: int = 0
