"""Any two-player PettingZoo AEC environment as a tournament game: ``pettingzoo:classic/connect_four_v3``.

The adapter offers the part of :class:`lab.game.Game` that needs no model of the rules: ``to_play``,
``done``, ``winner``, ``legal_actions``, ``legal_mask`` (the environment's action mask),
``observation`` (its observation for the side to move), ``play`` and ``history``. Players that only
look at observations and masks (``random``; learned policies) play it; players that search need to
copy and step positions, which an AEC environment does not allow, and are refused (a player class
says it needs no model with ``needs_game_model = False``).
"""

from __future__ import annotations

import importlib
import re
from typing import Any, ClassVar

import numpy as np

from lab.errors import LabError, MissingDependencyError, unknown_name

__all__ = ["PREFIX", "is_aec_name", "aec_game", "needs_game_model"]

PREFIX = "pettingzoo:"
_MOVE_CHARS = "123456789"


def is_aec_name(name: str) -> bool:
    return name.startswith(PREFIX)


def needs_game_model(player_cls: Any) -> bool:
    """Whether a player class searches a game model (the default for classes that do not say)."""
    return bool(getattr(player_cls, "needs_game_model", True))


class AECGame:
    """One game in a PettingZoo AEC environment (subclassed per environment by :func:`aec_game`)."""

    kind: ClassVar[str] = "aec"
    name: ClassVar[str] = ""
    num_actions: ClassVar[int] = 0
    env_fn: ClassVar[Any] = None

    def __init__(self) -> None:
        self.env = type(self).env_fn()
        self.env.reset(seed=0)
        self.agents = list(self.env.possible_agents)
        self.history: list[int] = []
        self._winner: int | None = None
        self._done = False

    @property
    def to_play(self) -> int:
        return self.agents.index(self.env.agent_selection)

    @property
    def done(self) -> bool:
        return self._done

    @property
    def winner(self) -> int | None:
        return self._winner

    def legal_mask(self) -> np.ndarray:
        if self._done:
            return np.zeros(self.num_actions, dtype=bool)
        return np.asarray(self.env.observe(self.env.agent_selection)["action_mask"], dtype=bool)

    def legal_actions(self) -> list[int]:
        return np.flatnonzero(self.legal_mask()).tolist()

    def observation(self) -> Any:
        return self.env.observe(self.env.agent_selection)["observation"]

    def why_illegal(self, action: int) -> str | None:
        if self._done:
            return "the game is over"
        if not 0 <= int(action) < self.num_actions or not self.legal_mask()[int(action)]:
            return f"action {action} is masked out"
        return None

    def play(self, action: int) -> None:
        reason = self.why_illegal(action)
        if reason is not None:
            raise LabError(f"illegal move {action}: {reason}")
        self.env.step(int(action))
        self.history.append(int(action))
        if any(self.env.terminations.values()) or any(self.env.truncations.values()):
            self._done = True
            r0, r1 = (float(self.env.rewards[a]) for a in self.agents)
            self._winner = 0 if r0 > r1 else 1 if r1 > r0 else None

    @classmethod
    def format_move(cls, action: int) -> str:
        """One character per move while the game has at most 9 actions (``1``-``9``), else the action's
        number (``300``; move lists separate them with spaces: :func:`lab.game.moves_text`)."""
        return _MOVE_CHARS[action] if cls.num_actions <= len(_MOVE_CHARS) else str(action)

    @classmethod
    def parse_move(cls, text: str) -> int:
        """:meth:`format_move`'s text to the action; ``(300)``, as older games files write it, is read too."""
        t = text.strip().strip("()").strip()
        if cls.num_actions <= len(_MOVE_CHARS):
            if len(t) == 1 and t in _MOVE_CHARS[: cls.num_actions]:
                return _MOVE_CHARS.index(t)
        elif t.isdigit() and int(t) < cls.num_actions:
            return int(t)
        raise LabError(f"{text.strip()!r} is not a move of {cls.name}")


_CACHE: dict[str, type[AECGame]] = {}


def _registry_env_fn(name: str, path: str) -> Any:
    """``pettingzoo.make("aec", path)`` (PettingZoo >= 1.27 has a registry), or None on older versions."""
    import functools

    import pettingzoo

    registry = getattr(pettingzoo, "aec_registry", None)
    if registry is None or not hasattr(pettingzoo, "make"):
        return None
    key = re.sub(r"_v(\d+)$", r"-v\1", path)  # classic/connect_four_v3 (module style) = classic/connect_four-v3
    if key not in registry:
        family = path.split("/")[0]
        choices = [k.replace("-v", "_v") for k in registry if k.split("/")[0] == family] or [
            k.replace("-v", "_v") for k in registry]
        raise unknown_name("PettingZoo environment", path, choices)
    from pettingzoo.env_registry.exceptions import FailedToImport

    env_fn = functools.partial(pettingzoo.make, "aec", key)
    try:
        env_fn().close()
    except FailedToImport as e:
        cause = f" ({e.__cause__})" if e.__cause__ else ""
        raise MissingDependencyError(f"{name!r} needs packages that are not installed{cause}: "
                                     f"pip install 'pettingzoo[{path.split('/')[0]}]'") from None
    return env_fn


def _module_env_fn(name: str, path: str) -> Any:
    module_name = "pettingzoo." + path.replace("/", ".")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as e:
        if e.name and module_name.startswith(e.name):
            raise LabError(f"{name!r}: PettingZoo has no environment {path!r} (no module {e.name})") from None
        raise MissingDependencyError(f"{name!r} needs the package {e.name!r}: pip install 'pettingzoo[{path.split('/')[0]}]'") from None
    except Exception as e:  # noqa: BLE001 - PettingZoo raises its own DependencyNotInstalled
        raise MissingDependencyError(f"{name!r} cannot be loaded: {str(e).strip().splitlines()[0][:200]}") from None
    env_fn = getattr(module, "env", None)
    if env_fn is None:
        raise LabError(f"{name!r}: {module_name} has no env() function")
    return env_fn


def aec_game(name: str) -> type[AECGame]:
    """The adapter class for ``pettingzoo:FAMILY/ENV`` (e.g. ``pettingzoo:classic/connect_four_v3``).

    Raises:
        LabError: a malformed name, an unknown environment, or one that is not a two-player AEC game
            with discrete actions and action masks.
        MissingDependencyError: the environment needs a package that is not installed.
    """
    if name in _CACHE:
        return _CACHE[name]
    path = name[len(PREFIX):].strip()
    if not path or "/" not in path:
        raise LabError(f"{name!r}: expected pettingzoo:FAMILY/ENV, e.g. pettingzoo:classic/connect_four_v3")
    env_fn = _registry_env_fn(name, path) or _module_env_fn(name, path)
    env = env_fn()
    env.reset(seed=0)
    agents = list(env.possible_agents)
    if len(agents) != 2:
        raise LabError(f"{name!r} has {len(agents)} agents; tournaments need two-player games")
    space = env.action_space(agents[0])
    obs = env.observe(agents[0])
    if not hasattr(space, "n") or not isinstance(obs, dict) or "action_mask" not in obs:
        raise LabError(f"{name!r}: expected discrete actions and dict observations with an action_mask")
    cls = type(f"AEC_{path.replace('/', '_')}", (AECGame,),
               {"name": name, "num_actions": int(space.n), "env_fn": staticmethod(env_fn)})
    _CACHE[name] = cls
    return cls
