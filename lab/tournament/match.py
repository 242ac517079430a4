"""Playing a tournament's games: one scheduler job plays a batch of games of one pairing.

All games of a job are in flight together: each turn, every game waiting on the same player goes to
it in one call (``act_many`` when the player has one, e.g. AlphaZero's batched search, so many
games' positions share each network call). Each finished game is appended to ``games.jsonl`` at once
(:func:`lab.tournament.gamesfile.append_game`) and also returned, for backends whose workers do not
share the folder.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

from lab.game import resolve_game
from lab.players import Player, PlayerSpec, make_player, parse_spec
from lab.registry import PLAYERS
from lab.tournament.aec import aec_game, is_aec_name, needs_game_model
from lab.tournament.gamesfile import append_game
from lab.tournament.schedule import moves_text

__all__ = ["load_game", "check_player", "play_batch", "play_job"]


def load_game(name: str) -> Any:
    """A lab game model by name (``connect_four``) or a PettingZoo AEC game (``pettingzoo:classic/...``)."""
    return aec_game(name) if is_aec_name(name) else resolve_game(name)


def check_player(spec: str | PlayerSpec, game_cls: Any) -> PlayerSpec:
    """Parse ``spec`` and refuse players that search a model when the game has none (PettingZoo)."""
    parsed = parse_spec(spec) if isinstance(spec, str) else spec
    if getattr(game_cls, "kind", None) == "aec" and needs_game_model(PLAYERS.load(parsed.name)):
        raise parsed.error(
            f"{parsed.name} searches a game model (it copies and steps positions), and {game_cls.name} is a "
            f"PettingZoo environment that offers only observations and action masks; use a lab game model "
            f"(e.g. connect_four) or a player that needs none (random)"
        )
    return parsed


def _act(player: Player, games: list[Any]) -> list[int]:
    act_many = getattr(player, "act_many", None)
    if act_many is not None and len(games) > 1:
        return [int(a) for a in act_many(games)]
    return [int(player.act(g)) for g in games]


def play_batch(
    boards: Sequence[Any],
    movers: Sequence[tuple[Player, Player]],
    on_end: Callable[[int, Any], None],
    *,
    batched: bool = True,
) -> None:
    """Play every board to its end: ``movers[i]`` = (who moves first, who moves second) in board ``i``.

    Each turn, the boards waiting on the same player object go to it together (``batched=False``: one
    board at a time, for comparison). ``on_end(i, board)`` runs as each game ends.
    """
    players = list({id(p): p for pair in movers for p in pair}.values())
    for i, board in enumerate(boards):
        if board.done:
            on_end(i, board)
    while True:
        live = [i for i, b in enumerate(boards) if not b.done]
        if not live:
            return
        for player in players:
            mine = [i for i in live if not boards[i].done and movers[i][boards[i].to_play] is player]
            if not mine:
                continue
            groups = [mine] if batched else [[i] for i in mine]
            for group in groups:
                actions = _act(player, [boards[i] for i in group])
                for i, a in zip(group, actions):
                    boards[i].play(a)
                    if boards[i].done:
                        on_end(i, boards[i])


def _threads(n: int | None) -> None:
    if n and "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(n)


def play_job(
    *,
    game: str,
    specs: dict[str, str],
    slots: list[dict[str, Any]],
    seed: int,
    games_file: str | None = None,
    device: str = "cpu",
    threads: int | None = 1,
    batched: bool = True,
) -> list[dict[str, Any]]:
    """Play ``slots`` (games of one pairing), the scheduler's job target.

    Args:
        game: the game's name (see :func:`load_game`).
        specs: player name -> spec, for the two players of the pairing.
        slots: ``{"id", "first", "second", "opening_index", "opening": [actions]}`` per game.
        seed: seeds both players' random choices for this job (recorded in each game as ``seed``).
        games_file: append each finished game here (None: only return them). Games already in it are
            skipped, so a retried job does not play them twice.
        device: torch device for players with a network.
        threads: torch threads in this worker.
        batched: hand a player all its waiting games at once (False: one at a time).

    Returns:
        The records of the games this job played.
    """
    game_cls = load_game(game)
    if games_file is not None:  # a retried job: skip the games its first attempt finished
        try:
            with open(games_file, "rb") as f:
                written = f.read()
        except FileNotFoundError:
            written = b""
        slots = [s for s in slots if f'"id":{json.dumps(s["id"])},'.encode() not in written]
    if not slots:
        return []
    players: dict[str, Player] = {}
    for k, name in enumerate(sorted(specs)):
        players[name] = make_player(check_player(specs[name], game_cls), game_cls, seed=seed * 2 + k, device=device)
    _threads(threads)
    boards, movers = [], []
    for s in slots:
        board = game_cls()
        for a in s["opening"]:
            board.play(int(a))
        boards.append(board)
        movers.append((players[s["first"]], players[s["second"]]))
    records: list[dict[str, Any]] = []
    t0 = time.perf_counter()

    def on_end(i: int, board: Any) -> None:
        s = slots[i]
        result = 0.5 if board.winner is None else 1.0 if board.winner == 0 else 0.0
        record = {
            "id": s["id"], "first": s["first"], "second": s["second"],
            "first_spec": specs[s["first"]], "second_spec": specs[s["second"]],
            "result": result, "moves": moves_text(game_cls, board.history),
            "opening": moves_text(game_cls, s["opening"]), "opening_index": s["opening_index"],
            "plies": len(board.history), "seed": seed, "seconds": round(time.perf_counter() - t0, 3),
        }
        if games_file is not None:
            append_game(games_file, record)
        records.append(record)

    play_batch(boards, movers, on_end, batched=batched)
    return records
