"""Resolve an environment name to what the lab trains on, with errors that say what to do.

A name is, in order: an environment registered with the lab (``lab.envs`` entry points, e.g. the
board games), ``module:Class`` for a user's own ``gymnasium.Env`` subclass, or any Gymnasium id
(``CartPole-v1``, ``HalfCheetah-v5`` with the ``mujoco`` extra, ``ALE/Pong-v5`` with ``atari``).
"""

from __future__ import annotations

import functools
import inspect
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from lab.errors import LabError, MissingDependencyError, closest
from lab.registry import ENVS, load_target

__all__ = ["EnvInfo", "resolve_env", "make_env", "is_atari"]

_ATARI_ID = re.compile(r"^(ALE/|.*NoFrameskip-v\d+$|.*Deterministic-v\d+$|.*-ram(NoFrameskip)?-v\d+$)")


@dataclass(frozen=True)
class EnvInfo:
    """What an agent needs to know about an environment before training on it."""

    id: str
    """The name as the user gave it."""
    kind: Literal["gym", "game"]
    """``gym``: a single-agent Gymnasium env. ``game``: a two-player board game model (``envs/games``)."""
    observation_space: Any = None
    action_space: Any = None
    factory: Callable[..., Any] | None = None
    """For ``gym``: ``factory(render_mode=None)`` makes one env. For ``game``: the game model class."""
    atari: bool = False
    max_episode_steps: int | None = None
    reward_threshold: float | None = None
    render_fps: float | None = None
    """Frame rate the environment declares for rendering (its ``metadata["render_fps"]``)."""


def is_atari(env_id: str) -> bool:
    """Whether ``env_id`` names an Arcade Learning Environment game."""
    if _ATARI_ID.match(env_id):
        return True
    spec = _gym_spec(env_id)
    return spec is not None and "ale_py" in str(spec.entry_point)


def _gym_spec(env_id: str) -> Any:
    import gymnasium as gym

    try:
        return gym.spec(env_id)
    except gym.error.Error:
        return None


@functools.cache
def _register_optional_families() -> None:
    """Let Gymnasium see the Atari ids when ale-py is installed (it registers them on import)."""
    try:
        import ale_py  # noqa: F401
        import gymnasium as gym

        gym.register_envs(ale_py)
    except ImportError:
        pass


def _accepts_render_mode(cls: type) -> bool:
    """Whether ``cls(render_mode=...)`` is a valid call (a ``render_mode`` parameter or ``**kwargs``)."""
    try:
        params = inspect.signature(cls).parameters
    except (TypeError, ValueError):  # no signature to read (a C extension): try it
        return True
    return "render_mode" in params or any(p.kind is p.VAR_KEYWORD for p in params.values())


def _from_class(env_id: str, obj: Any) -> EnvInfo:
    import gymnasium as gym

    if getattr(obj, "kind", None) == "game":
        return EnvInfo(id=env_id, kind="game", factory=obj)
    if isinstance(obj, type) and issubclass(obj, gym.Env):
        takes_render_mode = _accepts_render_mode(obj)

        def factory(render_mode: str | None = None, _cls: type = obj) -> gym.Env:
            return _cls(render_mode=render_mode) if render_mode and takes_render_mode else _cls()

        return _probe(env_id, factory)
    raise LabError(f"{env_id!r} is not a gymnasium.Env subclass or a lab game (it is a {type(obj).__name__})")


def _probe(env_id: str, factory: Callable[..., Any], atari: bool = False) -> EnvInfo:
    env = factory()
    try:
        spec = getattr(env, "spec", None)
        return EnvInfo(
            id=env_id,
            kind="gym",
            observation_space=env.observation_space,
            action_space=env.action_space,
            factory=factory,
            atari=atari,
            max_episode_steps=getattr(spec, "max_episode_steps", None),
            reward_threshold=getattr(spec, "reward_threshold", None),
            render_fps=(getattr(env, "metadata", None) or {}).get("render_fps"),
        )
    finally:
        env.close()


def _gym_factory(env_id: str) -> Callable[..., Any]:
    import gymnasium as gym

    def factory(render_mode: str | None = None) -> gym.Env:
        return gym.make(env_id, render_mode=render_mode) if render_mode else gym.make(env_id)

    return factory


def resolve_env(env_id: str) -> EnvInfo:
    """Find ``env_id`` and read its spaces (by making one instance and closing it).

    Raises:
        UnknownNameError-like LabError: unknown id, with the closest registered ids.
        MissingDependencyError: MuJoCo or Atari ids without their extra.
    """
    import gymnasium as gym

    if env_id in ENVS:
        return _from_class(env_id, ENVS.load(env_id))
    if ":" in env_id:
        module, _, attr = env_id.partition(":")
        if not re.fullmatch(r"[\w.]+", module):
            raise LabError(f"environment {env_id!r}: {module!r} is not a module name")
        obj = load_target(env_id) if re.fullmatch(r"[\w.]+", attr) else None
        if obj is not None:
            return _from_class(env_id, obj)
    _register_optional_families()
    atari = bool(_ATARI_ID.match(env_id))
    try:
        spec = gym.spec(env_id)
    except gym.error.Error:
        spec = None
    if spec is None:
        if atari:
            raise MissingDependencyError(
                f"{env_id} is an Atari environment: install the 'atari' extra (pip install 'lab[atari]')"
            )
        choices = list(gym.registry) + ENVS.names()
        hits = closest(env_id, choices, n=3)
        hint = ("; did you mean " + " or ".join(repr(h) for h in hits) + "?") if hits else ""
        raise LabError(f"unknown environment {env_id!r}{hint} (see `lab list envs`)")
    atari = atari or "ale_py" in str(spec.entry_point)
    try:
        return _probe(env_id, _gym_factory(env_id), atari=atari)
    except gym.error.DependencyNotInstalled as e:
        if "mujoco" in str(spec.entry_point).lower() or "mujoco" in str(e).lower():
            raise MissingDependencyError(
                f"{env_id} needs MuJoCo: install the 'mujoco' extra (pip install 'lab[mujoco]')"
            ) from None
        raise MissingDependencyError(f"{env_id} needs a package that is not installed: {e}") from None


def make_env(info: EnvInfo, render_mode: str | None = None) -> Any:
    """One fresh instance of a ``gym`` environment."""
    if info.kind != "gym" or info.factory is None:
        raise LabError(f"{info.id} is a {info.kind}, not a single-agent Gymnasium environment")
    return info.factory(render_mode=render_mode)
