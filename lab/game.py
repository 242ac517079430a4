"""The two-player board-game protocol that ``lab play``, ``lab analyze``, players and search rely on.

A game plugin is a class registered in ``lab.envs`` with ``kind = "game"`` (see ``envs/games``). It has
two faces over one representation, a small integer array per position, seen from the side to move:

* an **object** API for one game in progress (``play``, ``legal_actions``, ``render``, ...), used by
  the terminal commands, the players and the tests against PettingZoo;
* a **batched** API of classmethods over ``(n, state_size)`` int64 arrays (``batch_step``,
  ``batch_legal``, ``batch_encode``), used by the search to advance many positions at once.

Moves are given to people as text (``parse_move``/``format_move``, 1-based); actions are 0-based ints.
A move list is one character per move (``"4453"``) while every move is one character, else moves
separated by spaces (``"72 300 361"``: :func:`moves_text`, :func:`split_moves`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, ClassVar, Protocol, runtime_checkable

import numpy as np

from lab.errors import LabError, unknown_name
from lab.registry import ENVS

__all__ = [
    "Game",
    "IllegalMoveError",
    "IllegalPositionError",
    "resolve_game",
    "game_names",
    "position_from_moves",
    "score_of",
    "moves_text",
    "split_moves",
]


class IllegalMoveError(LabError, ValueError):
    """A move that cannot be played in the current position (the message says why)."""


class IllegalPositionError(LabError, ValueError):
    """A move list that does not lead to a playable position."""


@runtime_checkable
class Game(Protocol):
    """A deterministic, perfect-information, two-player zero-sum game with a fixed action set."""

    kind: ClassVar[str]
    """Always ``"game"``: how ``lab.envs`` tells games from Gymnasium environments."""
    name: ClassVar[str]
    num_actions: ClassVar[int]
    board_shape: ClassVar[tuple[int, int]]
    """``(rows, columns)`` of the observation planes."""
    planes: ClassVar[int]
    """Observation planes: the side to move's stones, then the opponent's."""
    state_size: ClassVar[int]
    """Length of the int64 vector that holds one position."""
    move_help: ClassVar[str]
    """How a person types a move, e.g. ``a column 1-7``."""
    solvable: ClassVar[bool]
    """Small enough for an exhaustive minimax search."""

    # --- one game in progress -------------------------------------------------------------
    history: list[int]
    """Actions played from the empty board."""

    def copy(self) -> Game: ...

    @property
    def to_play(self) -> int:
        """0 for the first player, 1 for the second."""
        ...

    @property
    def done(self) -> bool: ...

    @property
    def winner(self) -> int | None:
        """0 or 1 once a player has won, else None (also for a draw)."""
        ...

    def legal_actions(self) -> list[int]: ...

    def legal_mask(self) -> np.ndarray:
        """``(num_actions,)`` bool."""
        ...

    def why_illegal(self, action: int) -> str | None:
        """None if ``action`` is legal now, else the reason in a few words."""
        ...

    def play(self, action: int) -> None:
        """Play ``action`` for the side to move; raises IllegalMoveError with the reason."""
        ...

    def state(self) -> np.ndarray:
        """``(state_size,)`` int64: the position from the side to move (the search's representation)."""
        ...

    def observation(self) -> np.ndarray:
        """``(planes, rows, cols)`` float32 from the side to move (channels first)."""
        ...

    def render(self) -> Any:
        """A rich renderable of the board."""
        ...

    @classmethod
    def parse_move(cls, text: str) -> int:
        """A person's move text to an action; raises IllegalMoveError if it is malformed."""
        ...

    @classmethod
    def format_move(cls, action: int) -> str: ...

    # --- batched, over (n, state_size) int64 arrays ------------------------------------------
    @classmethod
    def batch_initial(cls, n: int) -> np.ndarray: ...

    @classmethod
    def batch_legal(cls, states: np.ndarray) -> np.ndarray:
        """``(n, num_actions)`` bool."""
        ...

    @classmethod
    def batch_step(cls, states: np.ndarray, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Play legal ``actions``; returns ``(next_states, terminal, mover_reward)``.

        ``next_states`` are seen from the new side to move; ``mover_reward`` is 1 where the move won,
        0 for a draw or a game that goes on.
        """
        ...

    @classmethod
    def batch_encode(cls, states: np.ndarray) -> np.ndarray:
        """``(n, planes, rows, cols)`` float32 network input."""
        ...

    @classmethod
    def symmetries(cls) -> list[tuple[np.ndarray, np.ndarray]]:
        """``(cell_perm, action_perm)`` pairs, identity first: ``obs'.flat[i] = obs.flat[cell_perm[i]]``
        (per plane) and ``policy'[j] = policy[action_perm[j]]`` describe the same position."""
        ...


def game_names() -> list[str]:
    """Names in ``lab.envs`` whose class is a game."""
    names = []
    for name in ENVS.names():
        try:
            obj = ENVS.load(name)
        except LabError:
            continue
        if getattr(obj, "kind", None) == "game":
            names.append(name)
    return names


def resolve_game(name: str) -> type[Game]:
    """The game class registered as ``name``; an unknown name suggests the closest game."""
    if name in ENVS:
        obj = ENVS.load(name)
        if getattr(obj, "kind", None) == "game":
            return obj
        raise LabError(f"{name!r} is an environment, not a two-player board game; games: {', '.join(game_names())}")
    raise unknown_name("game", name, game_names())


def _spaced(game_cls: Any) -> bool:
    """Whether the game's moves can take more than one character (its widest one: the last action)."""
    n = int(getattr(game_cls, "num_actions", 0) or 0)
    return n > 0 and len(game_cls.format_move(n - 1)) > 1


def moves_text(game_cls: Any, actions: Sequence[int]) -> str:
    """A move list as text, as :func:`split_moves` reads it back.

    One character per move when every move of the game is one character (``"4453"``), else the moves
    separated by spaces (``"72 300 361"`` for Go's 362 actions).
    """
    moves = [game_cls.format_move(int(a)) for a in actions]
    return " ".join(moves) if _spaced(game_cls) else "".join(moves)


_BRACKETED = re.compile(r"\([^()]*\)|[^()\s]")


def split_moves(game_cls: Any, text: str) -> list[str]:
    """The moves of a move list (:func:`moves_text`); ``""`` or ``"-"``: none.

    Games with one-character moves take one per character (``"4453"``, spaces ignored); others take
    space-separated moves (``"72 300 361"``), and the bracketed form older games files hold
    (``"(72)(300)(361)"``).
    """
    text = text.strip()
    if text in ("", "-"):
        return []
    if not _spaced(game_cls):
        return [ch for ch in text if not ch.isspace()]
    if "(" in text:
        return _BRACKETED.findall(text.replace(" ", ""))
    return text.split()


def position_from_moves(game_cls: type[Game], moves: str) -> Game:
    """The position reached by ``moves`` (:func:`split_moves`, e.g. ``"4453"``; ``"-"`` or ``""``: the start).

    Raises:
        IllegalPositionError: a character that is not a move, an illegal move, or a finished game.
    """
    game = game_cls()
    for i, ch in enumerate(split_moves(game_cls, moves), start=1):
        try:
            action = game_cls.parse_move(ch)
        except IllegalMoveError as e:
            raise IllegalPositionError(f"move {i} {ch!r}: {e}") from None
        if game.done:
            raise IllegalPositionError(f"move {i} {ch!r}: the game was already over after move {i - 1}")
        reason = game.why_illegal(action)
        if reason is not None:
            raise IllegalPositionError(f"move {i} {ch!r}: {reason}")
        game.play(action)
    if game.done:
        result = "a draw" if game.winner is None else f"won by the {'first' if game.winner == 0 else 'second'} player"
        raise IllegalPositionError(f"the game is already over ({result}); there is no move to analyze")
    return game


def score_of(game: Game, player: int) -> float:
    """Final score of ``player`` (0 or 1) in a finished game: 1 win, 0.5 draw, 0 loss."""
    if game.winner is None:
        return 0.5
    return 1.0 if game.winner == player else 0.0
