"""``world:RUN_DIR``: a trained world model (``lab train dynamics`` or ``world-diffusion``, on ``rollouts:ENV_ID``)
as a Gymnasium environment.

``reset`` draws a real first observation of the model's training episodes; ``step`` samples the next observation,
reward and termination from the model, and truncates at the real environment's time limit; the spaces are the
real environment's. ``info["disagreement"]`` is the ensemble's spread for that step (0: the members agree).

:class:`WorldVecEnv` steps ``n`` such environments in one forward pass (what ``lab train ALGO world:RUN_DIR``
uses through the env's ``vec_factory``); :class:`WorldEnv` is one of them, stepped alone.

Version History:
    * v0: first version (the id carries no version: the run folder names the model).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from stable_baselines3.common.vec_env import VecEnv, VecMonitor

from lab.errors import LabError

__all__ = ["World", "WorldEnv", "WorldVecEnv", "parse_world_id", "load_model"]


def parse_world_id(env_id: str) -> str:
    """``world:runs/dynamics-1`` -> ``runs/dynamics-1``.

    >>> parse_world_id("world:runs/dyn")
    'runs/dyn'
    """
    name, sep, run = env_id.partition(":")
    if name != "world" or not sep or not run:
        raise LabError(f"environment {env_id!r}: expected world:RUN_DIR, the run folder of a trained world model "
                       "(lab train dynamics rollouts:CartPole-v1)")
    return run


@functools.lru_cache(maxsize=8)
def _load(path: str, stamp: float) -> Any:
    from lab.world import load_world_model

    return load_world_model(path)


def load_model(run_dir: str) -> Any:
    """The world model of ``run_dir``, loaded once per process (again when its ``model.pt`` changes)."""
    if not Path(run_dir).is_dir():
        raise LabError(f"world:{run_dir}: no such run folder")
    model = Path(run_dir) / "model.pt"
    stamp = os.stat(model).st_mtime if model.is_file() else 0.0
    return _load(str(Path(run_dir).resolve()), stamp)


def _clip(space: Any, obs: np.ndarray) -> np.ndarray:
    """Dreamed observations stay inside the real observation space (finite bounds only)."""
    return np.clip(obs, space.low, space.high).astype(space.dtype, copy=False)


class WorldEnv(gym.Env):
    """One dreamed environment (see the module docstring)."""

    metadata = {"render_modes": []}

    def __init__(self, model: Any, render_mode: str | None = None) -> None:
        self.model = model
        self.observation_space = model.observation_space
        self.action_space = model.action_space
        self.max_episode_steps = model.max_episode_steps
        self.render_mode = render_mode
        self._starts = model.start_observations()
        self._obs: np.ndarray | None = None
        self._t = 0

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        self._obs = self._starts[int(self.np_random.integers(len(self._starts)))].astype(self.observation_space.dtype)
        self._t = 0
        return self._obs.copy(), {}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        if self._obs is None:
            raise gym.error.ResetNeeded("call reset() before step()")
        out = self.model.dream_step(self._obs[None], np.asarray(action)[None], self.np_random)
        self._obs = _clip(self.observation_space, out["obs"][0])
        self._t += 1
        terminated = bool(out["terminated"][0])
        truncated = not terminated and self.max_episode_steps is not None and self._t >= self.max_episode_steps
        return self._obs.copy(), float(out["reward"][0]), terminated, truncated, {
            "disagreement": float(out["disagreement"][0])}


class WorldVecEnv(VecEnv):
    """``n_envs`` dreamed environments stepped in one forward pass; done ones reset themselves (SB3's convention:
    ``infos[i]["terminal_observation"]``, ``infos[i]["TimeLimit.truncated"]``)."""

    def __init__(self, model: Any, n_envs: int) -> None:
        self.render_mode = None  # read by VecEnv.__init__ (no rendering: the model dreams vectors)
        super().__init__(n_envs, model.observation_space, model.action_space)
        self.model = model
        self.max_episode_steps = model.max_episode_steps
        self._starts = model.start_observations()
        self._rng = np.random.default_rng()
        self._obs = np.zeros((n_envs, *self.observation_space.shape), self.observation_space.dtype)
        self._t = np.zeros(n_envs, np.int64)
        self._actions: np.ndarray | None = None

    def _draw_starts(self, n: int) -> np.ndarray:
        return self._starts[self._rng.integers(len(self._starts), size=n)].astype(self.observation_space.dtype)

    def reset(self) -> np.ndarray:
        if self._seeds[0] is not None:
            self._rng = np.random.default_rng(self._seeds[0])
        self._reset_seeds()
        self._reset_options()
        self._obs = self._draw_starts(self.num_envs)
        self._t[:] = 0
        return self._obs.copy()

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = np.asarray(actions)

    def step_wait(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[dict[str, Any]]]:
        out = self.model.dream_step(self._obs, self._actions, self._rng)
        obs = _clip(self.observation_space, out["obs"])
        self._t += 1
        terminated = out["terminated"].astype(bool)
        limit = self.max_episode_steps
        truncated = ~terminated & (self._t >= limit) if limit is not None else np.zeros_like(terminated)
        dones = terminated | truncated
        infos: list[dict[str, Any]] = [{"disagreement": float(d)} for d in out["disagreement"]]
        done_idx = np.flatnonzero(dones)
        if len(done_idx):
            for i in done_idx:
                infos[i]["terminal_observation"] = obs[i].copy()
                infos[i]["TimeLimit.truncated"] = bool(truncated[i])
            obs[done_idx] = self._draw_starts(len(done_idx))
            self._t[done_idx] = 0
        self._obs = obs
        return obs.copy(), out["reward"].astype(np.float32), dones, infos

    def close(self) -> None:
        pass

    def get_attr(self, attr_name: str, indices: Any = None) -> list[Any]:
        return [getattr(self, attr_name)] * len(self._indices(indices))

    def set_attr(self, attr_name: str, value: Any, indices: Any = None) -> None:
        setattr(self, attr_name, value)

    def env_method(self, method_name: str, *args: Any, indices: Any = None, **kwargs: Any) -> list[Any]:
        return [getattr(self, method_name)(*args, **kwargs)] * len(self._indices(indices))

    def env_is_wrapped(self, wrapper_class: type, indices: Any = None) -> list[bool]:
        return [False] * len(self._indices(indices))

    def _indices(self, indices: Any) -> Sequence[int]:
        if indices is None:
            return range(self.num_envs)
        return [indices] if isinstance(indices, int) else list(indices)


class World:
    """Learned world models as environments: world:RUN_DIR (a `dynamics` or `world-diffusion` run folder)."""

    @staticmethod
    def env_factory(env_id: str, options: dict[str, Any]) -> Callable[..., WorldEnv]:
        # the mazes' tuned evaluation asks for held-out levels; a dream has no levels (its episodes start at the
        # training episodes' first grids): score an agent on real held-out mazes with lab eval RUN --env maze-...
        options = {k: v for k, v in options.items() if k != "levels"}
        if options:
            raise LabError(f"env options ({', '.join(sorted(options))}): {env_id} takes none")
        model = load_model(parse_world_id(env_id))
        return functools.partial(WorldEnv, model)

    @staticmethod
    def vec_env_factory(env_id: str, options: dict[str, Any]) -> Callable[[int, int], VecEnv]:
        """``make(n_envs, seed)``: a :class:`WorldVecEnv` under SB3's VecMonitor (episode returns and lengths)."""
        model = load_model(parse_world_id(env_id))

        def make(n_envs: int, seed: int) -> VecEnv:
            venv = WorldVecEnv(model, n_envs)
            venv.seed(seed)
            return VecMonitor(venv)

        return make

    @staticmethod
    def tuned_as(env_id: str) -> str:
        """The real environment the world model learned (an agent inside it takes that env's tuned values); read
        from the world-model run's config, so nothing is loaded."""
        from lab.training.config import resolve_config

        run = Path(parse_world_id(env_id))
        if not (run / "config.yaml").is_file():
            return env_id
        dataset = resolve_config(config_file=str(run / "config.yaml")).env
        return dataset.partition(":")[2] or env_id
