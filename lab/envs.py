"""Resolve an environment name to what the lab trains on, with errors that say what to do.

A name is, in order: an environment registered with the lab (``lab.envs`` entry points, e.g. the
board games), an id of a registered env family (``maze-13:procedural``: the family ``maze``, see
:class:`EnvFamily`), ``module:Class`` for a user's own ``gymnasium.Env`` subclass, ``module:EnvId`` (as
``gymnasium.make`` reads it: import ``module``, which registers ``EnvId``), or any Gymnasium id
(``CartPole-v1``, ``HalfCheetah-v5`` with the ``mujoco`` extra, ``ALE/Pong-v5`` with ``atari``).
Packages named in ``packages`` (``--gym-packages``) are imported first, and a few well-known ones
(minigrid, ale_py, ...) are tried when an id is not registered, as rl-baselines3-zoo does.

Wrappers are written as rl-baselines3-zoo's ``env_wrapper:`` key: ``"module.Class"`` or
``{"module.Class": {keyword: value}}``, applied in order, after the Monitor the agent adds (so episode
returns stay the game's). Atari ids always get SB3's ``AtariWrapper`` (noop reset, 4-frame skip with
max-pooling, life loss as episode end, fire on reset, 84x84 grey frames, clipped rewards) unless the
list names it with other keywords. Ids whose emulator already skips frames (``ALE/*-v5``: 4) are
made with ``frameskip=1`` so the wrapper's skip is the only one; their sticky actions (v5: 0.25,
Machado et al. 2018) are kept; ``*NoFrameskip-v4`` ids have none.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
import inspect
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol, runtime_checkable

from lab.errors import LabError, MissingDependencyError, closest
from lab.registry import ENVS, load_target

__all__ = [
    "EnvInfo",
    "EnvFamily",
    "family_name",
    "resolve_env",
    "make_env",
    "is_atari",
    "parse_wrappers",
    "import_packages",
    "import_known_packages",
    "KNOWN_PACKAGES",
]

ATARI_WRAPPER = "stable_baselines3.common.atari_wrappers.AtariWrapper"
KNOWN_PACKAGES = ("ale_py", "minigrid", "gymnasium_robotics", "highway_env", "panda_gym")
"""Imported (when installed) if an id is not registered, so their ids work without --gym-packages."""
Wrapper = tuple[type, dict[str, Any]]

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
    wrappers: tuple[Wrapper, ...] = ()
    """Gymnasium wrappers (class, keywords) to apply over ``factory()``'s env, after a Monitor; the spaces
    above are those of the wrapped env."""
    eval_factory: Callable[..., Any] | None = None
    """For ``gym``: the factory of evaluation episodes when they differ from training ones (an env family's
    envs with the config's ``eval_env_options``, e.g. held-out maze levels); None: ``factory``."""
    success_return: float | None = None
    """An episode whose return is above this is a success (the env's ``metadata["success_return"]``, if any):
    ``lab eval`` then reports a success rate."""
    vec_factory: Callable[[int, int], Any] | None = None
    """``vec_factory(n_envs, seed)``: a VecEnv stepping ``n_envs`` of these envs at once (with episode monitoring),
    when the env family has one (``world:RUN_DIR`` steps a whole batch in one model call); None: one env each."""

    def wrap(self, env: Any) -> Any:
        """Apply :attr:`wrappers` to one env (``make_vec_env``'s ``wrapper_class``)."""
        for cls, kwargs in self.wrappers:
            env = cls(env, **kwargs)
        return env


_FAMILY_ID = re.compile(r"^([A-Za-z_]\w*?)(?:-[^:/]*)?(?::|$)")


def family_name(env_id: str) -> str | None:
    """The family an id like ``maze-13:file:levels.txt`` names (``maze``), or None for ids of another shape.

    Only a family registered in ``lab.envs`` makes it one: ``CartPole-v1`` reads as ``CartPole``, which is not.

    >>> family_name("maze-13:procedural"), family_name("maze"), family_name("ALE/Pong-v5"), family_name("pkg.mod:Env")
    ('maze', 'maze', None, None)
    """
    m = _FAMILY_ID.match(env_id)
    return m.group(1) if m else None


@runtime_checkable
class EnvFamily(Protocol):
    """A registered family of environments named by parameterized ids (``maze-13:procedural``).

    Register it under the family name in ``lab.envs``; ``resolve_env`` hands it every id whose
    :func:`family_name` is that name, with the run's env options (``--set env.view=5``).
    """

    @staticmethod
    def env_factory(env_id: str, options: dict[str, Any]) -> Callable[..., Any]:
        """``factory(render_mode=None)`` making the env ``env_id`` names; LabError for a bad id or option."""
        ...


def is_atari(env_id: str) -> bool:
    """Whether ``env_id`` names an Arcade Learning Environment game."""
    if _ATARI_ID.match(env_id):
        return True
    _register_optional_families()
    spec = _gym_spec(env_id)
    return spec is not None and "ale_py" in str(spec.entry_point)


def _gym_spec(env_id: str) -> Any:
    import gymnasium as gym

    try:
        return gym.spec(env_id)
    except gym.error.Error:
        return None


@functools.cache
def _quiet_mujoco() -> None:
    """Send MuJoCo's warnings to logging (``lab.mujoco``, INFO) instead of stderr and a MUJOCO_LOG.TXT in the
    working directory: Gymnasium's v5 models trip a deprecation warning on every environment made."""
    try:
        import logging

        import mujoco

        log = logging.getLogger("lab.mujoco")
        mujoco.set_mju_user_warning(lambda msg: log.info("MuJoCo: %s", msg.strip()))
    except (ImportError, AttributeError):
        pass


@functools.cache
def _register_optional_families() -> None:
    """Let Gymnasium see the Atari ids when ale-py is installed (it registers them on import)."""
    try:
        import ale_py
        import gymnasium as gym

        gym.register_envs(ale_py)
        ale_py.ALEInterface.setLoggerMode(ale_py.LoggerMode.Error)  # no banner on every environment made
    except ImportError:
        pass


def _accepts_render_mode(cls: type) -> bool:
    """Whether ``cls(render_mode=...)`` is a valid call (a ``render_mode`` parameter or ``**kwargs``)."""
    try:
        params = inspect.signature(cls).parameters
    except (TypeError, ValueError):  # no signature to read (a C extension): try it
        return True
    return "render_mode" in params or any(p.kind is p.VAR_KEYWORD for p in params.values())


def _from_class(env_id: str, obj: Any, wrappers: tuple[Wrapper, ...] = ()) -> EnvInfo:
    import gymnasium as gym

    if getattr(obj, "kind", None) == "game":
        return EnvInfo(id=env_id, kind="game", factory=obj)
    if isinstance(obj, type) and issubclass(obj, gym.Env):
        takes_render_mode = _accepts_render_mode(obj)

        def factory(render_mode: str | None = None, _cls: type = obj) -> gym.Env:
            return _cls(render_mode=render_mode) if render_mode and takes_render_mode else _cls()

        return _probe(env_id, factory, wrappers=wrappers)
    raise LabError(f"{env_id!r} is not a gymnasium.Env subclass or a lab game (it is a {type(obj).__name__})")


def _probe(env_id: str, factory: Callable[..., Any], atari: bool = False, wrappers: tuple[Wrapper, ...] = ()) -> EnvInfo:
    env = factory()
    try:
        spec = getattr(env, "spec", None)
        info = EnvInfo(
            id=env_id,
            kind="gym",
            factory=factory,
            atari=atari,
            max_episode_steps=getattr(spec, "max_episode_steps", None),
            reward_threshold=getattr(spec, "reward_threshold", None),
            render_fps=(getattr(env, "metadata", None) or {}).get("render_fps"),
            wrappers=wrappers,
            success_return=(getattr(env, "metadata", None) or {}).get("success_return"),
        )
        env = info.wrap(env)
        return dataclasses.replace(info, observation_space=env.observation_space, action_space=env.action_space)
    finally:
        env.close()


def _gym_factory(spec: Any, kwargs: dict[str, Any]) -> Callable[..., Any]:
    import gymnasium as gym

    # by spec, not by id: a subprocess worker's registry lacks the ids that imports registered here
    def factory(render_mode: str | None = None) -> gym.Env:
        extra = {"render_mode": render_mode} if render_mode else {}
        return gym.make(spec, **kwargs, **extra)

    return factory


def _import_package(name: str, where: str) -> None:
    if not re.fullmatch(r"[A-Za-z_][\w.]*", name):
        raise LabError(f"{where}: {name!r} is not a module name")
    try:
        importlib.import_module(name)
    except ModuleNotFoundError as e:
        if e.name and (name == e.name or name.startswith(e.name + ".")):
            raise MissingDependencyError(f"{where}: no module named {e.name!r} (pip install it first)") from None
        raise MissingDependencyError(f"{where}: {name} needs the package {e.name!r}, which is not installed") from None


def import_packages(names: Sequence[str], where: str = "--gym-packages") -> None:
    """Import each module in ``names`` (they register their environment ids), with a clear error if missing."""
    for name in names:
        _import_package(name, f"{where} {name}")


def import_known_packages() -> None:
    """Import those of :data:`KNOWN_PACKAGES` that are installed."""
    for name in KNOWN_PACKAGES:
        try:
            importlib.import_module(name)
        except ImportError:
            continue


def parse_wrappers(spec: Any, where: str = "env_wrapper") -> tuple[Wrapper, ...]:
    """rl-baselines3-zoo's ``env_wrapper`` value -> ``((class, kwargs), ...)``, importing each class.

    >>> parse_wrappers([{"gymnasium.wrappers.TimeLimit": {"max_episode_steps": 50}}])[0][1]
    {'max_episode_steps': 50}
    """
    if spec is None:
        return ()
    items = spec if isinstance(spec, (list, tuple)) else [spec]
    out: list[Wrapper] = []
    for i, item in enumerate(items):
        if isinstance(item, dict):
            if len(item) != 1:
                raise LabError(f"{where}[{i}]: expected one wrapper name with its keywords, got {item!r}")
            name, kwargs = next(iter(item.items()))
            kwargs = dict(kwargs or {})
        else:
            name, kwargs = item, {}
        if isinstance(name, type):
            out.append((name, kwargs))
            continue
        module, _, attr = str(name).replace(":", ".").rpartition(".")
        if not module:
            raise LabError(f"{where}[{i}]: {name!r} is not module.Class")
        out.append((load_target(f"{module}:{attr}"), kwargs))
    return tuple(out)


def _atari_setup(spec: Any, wrappers: tuple[Wrapper, ...]) -> tuple[dict[str, Any], tuple[Wrapper, ...]]:
    """The make keywords and wrappers that give an Atari id one 4-frame skip (see the module docstring)."""
    skip = spec.kwargs.get("frameskip", 1)
    make_kwargs = {} if skip == 1 else {"frameskip": 1}
    frame_skip = skip if isinstance(skip, int) and skip > 1 else 4
    atari_cls = load_target(ATARI_WRAPPER.rpartition(".")[0] + ":AtariWrapper")
    given = [kw for cls, kw in wrappers if cls is atari_cls]
    kwargs = {"frame_skip": frame_skip, **(given[0] if given else {})}
    rest = tuple(w for w in wrappers if w[0] is not atari_cls)
    return make_kwargs, ((atari_cls, kwargs), *rest)


def resolve_env(
    env_id: str,
    options: dict[str, Any] | None = None,
    eval_options: dict[str, Any] | None = None,
    *,
    packages: Sequence[str] = (),
    wrappers: Any = None,
    kwargs: dict[str, Any] | None = None,
) -> EnvInfo:
    """Find ``env_id`` and read its spaces (by making one instance, wrapped, and closing it).

    Args:
        env_id: the name (see the module docstring).
        options: the config's ``env_options`` (``--set env.KEY=VALUE``), for an env family's envs.
        eval_options: ``eval_env_options``, laid over ``options`` for evaluation episodes
            (``EnvInfo.eval_factory``); other environments take neither.
        packages: modules to import first (they register ids), as rl-baselines3-zoo's ``--gym-packages``.
        wrappers: rl-baselines3-zoo ``env_wrapper`` value (see :func:`parse_wrappers`).
        kwargs: keyword arguments for ``gymnasium.make`` (the zoo's ``env_kwargs``).

    Raises:
        UnknownNameError-like LabError: unknown id, with the closest registered ids.
        MissingDependencyError: MuJoCo or Atari ids without their extra; a package that is not installed.
    """
    import gymnasium as gym

    import_packages(packages)
    parsed = parse_wrappers(wrappers)
    family = family_name(env_id)
    if family is not None and family in ENVS:
        obj = ENVS.load(family)
        if isinstance(obj, EnvFamily):
            if kwargs:
                raise LabError(
                    f"env_kwargs ({', '.join(sorted(kwargs))}) are gymnasium.make keywords; {env_id} is an env "
                    "family's id: set its env options instead (--set env.KEY=VALUE)"
                )
            info = _probe(env_id, obj.env_factory(env_id, dict(options or {})), wrappers=parsed)
            if eval_options:
                eval_factory = obj.env_factory(env_id, {**(options or {}), **eval_options})
                eval_info = _probe(env_id, eval_factory, wrappers=parsed)
                if eval_info.observation_space != info.observation_space or eval_info.action_space != info.action_space:
                    raise LabError(f"eval env options {eval_options} change {env_id}'s observation or action space")
                info = dataclasses.replace(info, eval_factory=eval_factory)
            vec_env_factory = getattr(obj, "vec_env_factory", None)  # a family that steps batches itself
            if vec_env_factory is not None:
                info = dataclasses.replace(info, vec_factory=vec_env_factory(env_id, dict(options or {})))
            return info
    if options or eval_options:
        given = {**(options or {}), **(eval_options or {})}
        raise LabError(
            f"env options ({', '.join(sorted(given))}) apply to env families such as maze-13:procedural; "
            f"{env_id} takes none"
        )
    if env_id in ENVS:
        return _from_class(env_id, ENVS.load(env_id), parsed)
    gym_id = env_id
    if ":" in env_id:
        module, _, attr = env_id.partition(":")
        if not re.fullmatch(r"[\w.]+", module):
            raise LabError(f"environment {env_id!r}: {module!r} is not a module name")
        if re.fullmatch(r"[\w.]+", attr):
            return _from_class(env_id, load_target(env_id), parsed)
        _import_package(module, f"environment {env_id!r}")  # module:EnvId, as gymnasium.make reads it
        gym_id = attr
    _register_optional_families()
    atari = bool(_ATARI_ID.match(gym_id))
    spec = _gym_spec(gym_id)
    if spec is None:
        import_known_packages()
        spec = _gym_spec(gym_id)
    if spec is None:
        if atari:
            raise MissingDependencyError(
                f"{env_id} is an Atari environment: install the 'atari' extra (pip install 'lab[atari]')"
            )
        choices = list(gym.registry) + ENVS.names()
        hits = closest(gym_id, choices, n=3)
        hint = ("; did you mean " + " or ".join(repr(h) for h in hits) + "?") if hits else ""
        raise LabError(
            f"unknown environment {env_id!r}{hint}{' Ids' if hint else '; ids'} of other packages: PKG:EnvId or --gym-packages PKG "
            "(see `lab list envs`)"
        )
    atari = atari or "ale_py" in str(spec.entry_point)
    if "mujoco" in str(spec.entry_point):
        _quiet_mujoco()
    make_kwargs = dict(kwargs or {})
    if atari:
        atari_kwargs, parsed = _atari_setup(spec, parsed)
        make_kwargs = {**atari_kwargs, **make_kwargs}
    try:
        return _probe(env_id, _gym_factory(spec, make_kwargs), atari=atari, wrappers=parsed)
    except gym.error.DependencyNotInstalled as e:
        if "mujoco" in str(spec.entry_point).lower() or "mujoco" in str(e).lower():
            raise MissingDependencyError(
                f"{env_id} needs MuJoCo: install the 'mujoco' extra (pip install 'lab[mujoco]')"
            ) from None
        if atari and ("cv2" in str(e).lower() or "opencv" in str(e).lower()):
            raise MissingDependencyError(f"{env_id} needs OpenCV: install the 'atari' extra (pip install 'lab[atari]')") from None
        raise MissingDependencyError(f"{env_id} needs a package that is not installed: {e}") from None


def make_env(info: EnvInfo, render_mode: str | None = None) -> Any:
    """One fresh instance of a ``gym`` environment."""
    if info.kind != "gym" or info.factory is None:
        raise LabError(f"{info.id} is a {info.kind}, not a single-agent Gymnasium environment")
    return info.factory(render_mode=render_mode)
