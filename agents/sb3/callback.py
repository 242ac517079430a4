"""Adapters turning stable-baselines3's callback hooks and logger into lab events.

SB3 is wrapped, not subclassed: :class:`EventCallback` is an SB3 callback (its documented extension
point) and :class:`BusWriter` an SB3 logger output format.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import numpy as np
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.logger import KVWriter

from lab.agent import TrainContext
from lab.events import EpisodeEnded, EventBus, MetricsLogged, SafePoint

__all__ = ["EventCallback", "BusWriter"]


class BusWriter(KVWriter):
    """SB3 logger output that publishes each dump (``train/loss``, ``rollout/ep_rew_mean``, ...) as MetricsLogged."""

    def __init__(self) -> None:
        self.bus: EventBus | None = None

    def write(self, key_values: dict[str, Any], key_excluded: dict[str, tuple[str, ...]], step: int = 0) -> None:
        if self.bus is None:
            return
        metrics = {
            k: float(v)
            for k, v in key_values.items()
            if isinstance(v, (int, float, np.number)) and not isinstance(v, bool)
        }
        if metrics:
            self.bus.publish(MetricsLogged(step=int(step), metrics=metrics))

    def close(self) -> None:
        self.bus = None


class EventCallback(BaseCallback):
    """Publishes EpisodeEnded per finished episode, SafePoint at every rollout start, and the events
    environments hand out in ``info["lab_events"]`` (e.g. LevelDrawn), stamped with the current step and time.

    Stops training exactly at ``budget`` steps (SB3 alone would finish the rollout) or as soon as
    the run is asked to stop. At a rollout start the previous rollout has been trained on, so the
    agent's state is consistent: checkpoints and evaluations happen there.
    """

    def __init__(self, agent: Any, ctx: TrainContext, budget: int) -> None:
        super().__init__(verbose=0)
        self.agent = agent
        self.ctx = ctx
        self.budget = budget
        self._publish = ctx.bus.publish

    def _on_rollout_start(self) -> None:
        step = self.model.num_timesteps
        if step > 0:
            self._publish(SafePoint(step=step, agent=self.agent))

    def _on_step(self) -> bool:
        infos = self.locals["infos"]
        for info in infos:
            env_events = info.get("lab_events")
            if env_events:
                step, now = self.model.num_timesteps, time.time()
                for event in env_events:
                    self._publish(dataclasses.replace(event, step=step, time=now))
        dones = self.locals["dones"]
        if dones.any():
            step = self.model.num_timesteps
            for i in np.flatnonzero(dones):
                episode = infos[i].get("episode")
                if episode is not None:
                    self._publish(EpisodeEnded(step=step, episode_return=float(episode["r"]), episode_length=int(episode["l"])))
        return self.model.num_timesteps < self.budget and not self.ctx.stop_event.is_set()
