"""EnvPool's C++ vectorized environments as an SB3 ``VecEnv`` (``--vec envpool``, the ``envpool`` extra).

EnvPool (Weng et al. 2022, github.com/sail-sg/envpool) steps a batch of Atari or MuJoCo environments in
its own thread pool. :func:`envpool_task` maps a lab environment to EnvPool's task and settings so that
training sees what the in-process path gives it:

* Atari (``ALE/Breakout-v5``, ``BreakoutNoFrameskip-v4``) -> EnvPool's ``Breakout-v5`` with SB3's
  ``AtariWrapper`` settings: 30 no-op starts, a 4-frame skip with max-pooling, life loss as episode end,
  fire on reset, 84x84 grey frames, clipped rewards, 4 stacked frames; sticky actions 0.25 for ``ALE/*-v5``
  ids, none for ``*NoFrameskip-v4`` ids; at most 108,000 frames (27,000 steps) a game.
* Other ids EnvPool has (``HalfCheetah-v5``, ``Hopper-v5``, ``CartPole-v1``, ...): the same id.

Anything else (extra wrappers, ids EnvPool lacks) is refused with one line; the zoo's ``env_kwargs``
(``gymnasium.make`` keywords) do not reach EnvPool's environments. Evaluation
episodes keep the in-process Gymnasium environments, so scores are comparable between both paths.
:class:`EnvPoolVecEnv` resets finished environments at once (SB3's convention, the terminal observation in
``infos[i]["terminal_observation"]``) and reports whole games in ``infos[i]["episode"]`` (the game's
unclipped return across lives, as SB3's ``Monitor`` under the ``AtariWrapper`` does).
"""

from __future__ import annotations

import re
import time
import warnings
from typing import Any

import numpy as np
from stable_baselines3.common.vec_env.base_vec_env import VecEnv

from lab.envs import ATARI_WRAPPER, EnvInfo
from lab.errors import LabError, MissingDependencyError

__all__ = ["EnvPoolVecEnv", "envpool_task", "available"]

INSTALL = "pip install envpool (or the lab's envpool extra: pip install -e '.[envpool]')"

_ATARI_NAME = re.compile(r"^(?:ALE/)?(?P<game>[A-Za-z]+?)(?P<noskip>NoFrameskip)?-v(?P<v>\d+)$")


def available() -> bool:
    """Whether the ``envpool`` package can be imported."""
    try:
        import envpool  # noqa: F401
    except ImportError:
        return False
    return True


def _envpool() -> Any:
    try:
        import envpool
    except ImportError:
        raise MissingDependencyError(f"--vec envpool needs the envpool package: {INSTALL}") from None
    return envpool


def envpool_task(env: EnvInfo) -> tuple[str, dict[str, Any]]:
    """EnvPool's task id and ``envpool.make`` keywords for ``env``; a LabError where EnvPool cannot run it."""
    envpool = _envpool()
    known = set(envpool.list_all_envs())
    refuse = f"--vec envpool: {env.id!r}"
    gym_id = env.id.partition(":")[2] if ":" in env.id else env.id
    if env.atari:
        wrappers = [(cls, kw) for cls, kw in env.wrappers if f"{cls.__module__}.{cls.__name__}" != ATARI_WRAPPER]
        atari_kwargs = [kw for cls, kw in env.wrappers if f"{cls.__module__}.{cls.__name__}" == ATARI_WRAPPER]
        match = _ATARI_NAME.match(gym_id)
        task = f"{match['game']}-v5" if match else None
        if task not in known:
            raise LabError(f"{refuse}: EnvPool has no Atari game {task or gym_id!r}; use --vec dummy or subproc")
        if wrappers or any(set(kw) - {"frame_skip"} or kw.get("frame_skip", 4) != 4 for kw in atari_kwargs):
            raise LabError(f"{refuse}: EnvPool runs SB3's AtariWrapper settings only; the config adds wrappers or "
                           "changes the AtariWrapper's keywords; use --vec dummy or subproc")
        sticky = 0.0 if match["noskip"] or not gym_id.startswith("ALE/") else 0.25
        return task, {
            "episodic_life": True, "reward_clip": True, "noop_max": 30, "frame_skip": 4, "stack_num": 4,
            "img_height": 84, "img_width": 84, "gray_scale": True, "use_fire_reset": True,
            "repeat_action_probability": sticky, "max_episode_steps": 27_000,
        }
    if gym_id not in known:
        raise LabError(f"{refuse}: EnvPool has no such environment (it runs Atari, MuJoCo and a few classic "
                       "control ids); use --vec dummy or subproc")
    if env.wrappers:
        raise LabError(f"{refuse}: the config adds wrappers ({', '.join(c.__name__ for c, _ in env.wrappers)}), "
                       "which EnvPool's environments cannot take; use --vec dummy or subproc")
    return gym_id, {}


class EnvPoolVecEnv(VecEnv):
    """``n_envs`` EnvPool environments behind SB3's ``VecEnv`` interface (see the module docstring)."""

    def __init__(self, task: str, n_envs: int, seed: int, **kwargs: Any) -> None:
        envpool = _envpool()
        with warnings.catch_warnings():  # EnvPool declares float64 bounds for float32 boxes; gymnasium warns
            warnings.filterwarnings("ignore", message=".*precision lowered by casting", category=UserWarning)
            self.pool = envpool.make(task, env_type="gymnasium", num_envs=n_envs, seed=seed, **kwargs)
            spaces = self.pool.single_observation_space, self.pool.single_action_space  # made on first access
        self.task = task
        super().__init__(n_envs, *spaces)
        self._actions: np.ndarray | None = None
        self._returns = np.zeros(n_envs)
        self._lengths = np.zeros(n_envs, dtype=np.int64)
        self._t0 = time.time()

    def reset(self) -> np.ndarray:
        obs, _info = self.pool.reset()
        self._returns[:] = 0.0
        self._lengths[:] = 0
        return obs

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = np.asarray(actions)

    def step_wait(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[dict[str, Any]]]:
        obs, reward, terminated, truncated, info = self.pool.step(self._actions)
        raw = np.asarray(info.get("reward", reward), dtype=np.float64)  # Atari: the unclipped reward
        self._returns += raw
        self._lengths += 1
        done = np.logical_or(terminated, truncated)
        lives = info.get("lives")
        infos: list[dict[str, Any]] = [{} for _ in range(self.num_envs)]
        finished = np.flatnonzero(done)
        if len(finished):
            for i in finished:
                infos[i]["terminal_observation"] = obs[i].copy()
                infos[i]["TimeLimit.truncated"] = bool(truncated[i] and not terminated[i])
                if lives is None or lives[i] == 0 or truncated[i]:  # the game is over, not only a life
                    infos[i]["episode"] = {"r": float(self._returns[i]), "l": int(self._lengths[i]),
                                           "t": round(time.time() - self._t0, 6)}
                    self._returns[i], self._lengths[i] = 0.0, 0
            reset_obs, _ = self.pool.reset(np.asarray(finished, dtype=np.int32))
            obs = obs.copy()
            obs[finished] = reset_obs
        return obs, np.asarray(reward, dtype=np.float32), done, infos

    def close(self) -> None:
        self.pool.close() if hasattr(self.pool, "close") else None

    # --- the parts of VecEnv that address single environments ---------------------------------
    def get_attr(self, attr_name: str, indices: Any = None) -> list[Any]:
        if attr_name == "render_mode":
            return [None] * len(self._indices(indices))
        raise AttributeError(f"EnvPool environments have no attribute {attr_name!r}")

    def set_attr(self, attr_name: str, value: Any, indices: Any = None) -> None:
        raise AttributeError(f"EnvPool environments cannot set {attr_name!r}")

    def env_method(self, method_name: str, *method_args: Any, indices: Any = None, **method_kwargs: Any) -> list[Any]:
        raise AttributeError(f"EnvPool environments have no method {method_name!r}")

    def env_is_wrapped(self, wrapper_class: type, indices: Any = None) -> list[bool]:
        return [False] * len(self._indices(indices))

    def _indices(self, indices: Any) -> list[int]:
        if indices is None:
            return list(range(self.num_envs))
        return [indices] if isinstance(indices, int) else list(indices)
