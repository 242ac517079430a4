"""Player specs, one syntax everywhere (training evaluation, ``lab play``, ``lab analyze``), and games between players.

A spec is ``NAME[:ARG][:KEY=VALUE ...]``: ``random``, ``mcts:400``, ``minimax``, ``alphazero:runs/az-ttt``,
``alphazero:runs/az-ttt:sims=400``. ``NAME`` is looked up in the ``lab.players`` registry; the class found
there parses its own arguments in ``from_spec`` and meets :class:`Player`. This module imports nothing
from ``agents/``.

>>> parse_spec("alphazero:runs/az:sims=400")
PlayerSpec(name='alphazero', args=('runs/az',), options={'sims': '400'}, text='alphazero:runs/az:sims=400')
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

from lab.errors import LabError, unknown_name
from lab.game import Game, score_of
from lab.registry import PLAYERS

__all__ = [
    "Player",
    "PlayerSpec",
    "PlayerSpecError",
    "parse_spec",
    "make_player",
    "positive_int",
    "play_games",
    "describe_scores",
]


class PlayerSpecError(LabError, ValueError):
    """A player spec that cannot be parsed or does not name a usable player."""


@runtime_checkable
class Player(Protocol):
    """Something that picks moves in a :class:`lab.game.Game`.

    Players may also offer ``act_many(games) -> list[int]`` (several games at once, e.g. one batched
    network call) and ``analyze(game) -> (policy, value)``: a ``(num_actions,)`` move distribution and
    the value for the side to move in [-1, 1].
    """

    name: str
    """The spec the player was made from (shown in results)."""

    def act(self, game: Game) -> int:
        """The action to play in ``game`` (not finished)."""
        ...


@dataclass(frozen=True)
class PlayerSpec:
    """A parsed spec: ``mcts:400`` -> ``PlayerSpec("mcts", ("400",), {})``."""

    name: str
    args: tuple[str, ...] = ()
    options: dict[str, str] = field(default_factory=dict)
    text: str = ""

    def error(self, message: str) -> PlayerSpecError:
        """A :class:`PlayerSpecError` that quotes the spec."""
        return PlayerSpecError(f"player spec {self.text!r}: {message}")


def parse_spec(text: str) -> PlayerSpec:
    """Split ``NAME[:ARG][:KEY=VALUE ...]`` and check that ``NAME`` is a registered player.

    Raises:
        PlayerSpecError: an empty spec, an empty part or a malformed option.
        UnknownNameError: an unregistered player name (with the closest names).
    """
    raw = text.strip() if isinstance(text, str) else ""
    if not raw:
        raise PlayerSpecError(f"empty player spec; expected one of {', '.join(PLAYERS.names())} (e.g. mcts:400)")
    name, *parts = raw.split(":")
    name = name.strip()
    if name not in PLAYERS:
        raise unknown_name("player", name, PLAYERS.names())
    args: list[str] = []
    options: dict[str, str] = {}
    for part in parts:
        part = part.strip()
        if not part:
            raise PlayerSpecError(f"player spec {raw!r}: empty part after ':'")
        key, eq, value = part.partition("=")
        if eq:
            if not key.strip() or not value.strip():
                raise PlayerSpecError(f"player spec {raw!r}: option {part!r} is not KEY=VALUE")
            options[key.strip()] = value.strip()
        elif options:
            raise PlayerSpecError(f"player spec {raw!r}: argument {part!r} after an option; put options last")
        else:
            args.append(part)
    return PlayerSpec(name, tuple(args), options, raw)


def positive_int(spec: PlayerSpec, value: str, what: str) -> int:
    """``value`` as a positive int, or a PlayerSpecError naming ``what`` (e.g. ``simulations``)."""
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise spec.error(f"expected a positive whole number of {what}, got {value!r}")
    return number


def make_player(spec: str | PlayerSpec, game_cls: type[Game], *, seed: int = 0, device: str = "cpu") -> Player:
    """Build the player a spec names, for ``game_cls`` (``from_spec`` validates arguments and options)."""
    parsed = parse_spec(spec) if isinstance(spec, str) else spec
    cls = PLAYERS.load(parsed.name)
    return cls.from_spec(parsed, game_cls, seed=seed, device=device)


def _act_all(player: Player, games: list[Game]) -> list[int]:
    act_many = getattr(player, "act_many", None)
    if act_many is not None and len(games) > 1:
        return [int(a) for a in act_many(games)]
    return [int(player.act(g)) for g in games]


def play_games(
    game_cls: type[Game],
    players: Sequence[Player],
    games: int,
    *,
    alternate: bool = True,
    opening_moves: int = 0,
    seed: int = 0,
    on_game_end: Callable[[int, Game, float], None] | None = None,
) -> list[float]:
    """Play ``games`` games between ``players[0]`` and ``players[1]``, all in flight together.

    With ``alternate``, ``players[0]`` moves first in even-numbered games and second in odd ones. Each
    turn, all games waiting on the same player go to it together (``act_many`` when it has one).
    ``opening_moves`` random moves (seeded by ``seed``) start each game, the same for games ``2k`` and
    ``2k + 1``: two deterministic players then still meet in varied positions, each side of each opening.

    Returns:
        ``players[0]``'s score per game: 1 win, 0.5 draw, 0 loss.
    """
    if games < 1:
        raise LabError(f"games: expected a positive number, got {games}")
    boards = [game_cls() for _ in range(games)]
    rng = random.Random(seed)
    for k in range(0, games, 2):
        for _ in range(opening_moves):
            if boards[k].done:
                break
            action = rng.choice(boards[k].legal_actions())
            for board in boards[k : k + 2]:
                board.play(action)
    first = [0 if (not alternate or i % 2 == 0) else 1 for i in range(games)]  # who moves first in game i
    scores: list[float] = [float("nan")] * games
    for i, board in enumerate(boards):  # a random opening that already ended the game
        if board.done:
            scores[i] = score_of(board, first[i])
    while True:
        live = [i for i, g in enumerate(boards) if not g.done]
        if not live:
            break
        for p in (0, 1):
            mine = [i for i in live if not boards[i].done and (first[i] + boards[i].to_play) % 2 == p]
            if not mine:
                continue
            actions = _act_all(players[p], [boards[i] for i in mine])
            for i, a in zip(mine, actions):
                boards[i].play(a)
                if boards[i].done:
                    scores[i] = score_of(boards[i], first[i])  # first[i]: players[0]'s colour
                    if on_game_end is not None:
                        on_game_end(i, boards[i], scores[i])
    return scores


def describe_scores(scores: Sequence[float]) -> dict[str, Any]:
    """Wins, draws, losses and the mean score of a list of game scores."""
    arr = np.asarray(scores, dtype=float)
    return {
        "games": int(arr.size),
        "wins": int((arr == 1.0).sum()),
        "draws": int((arr == 0.5).sum()),
        "losses": int((arr == 0.0).sum()),
        "score": float(arr.mean()) if arr.size else float("nan"),
    }
