"""Exhaustive negamax with a transposition table: perfect play for small games (Tic-Tac-Toe)."""

from __future__ import annotations

import functools
import random
from typing import Any

__all__ = ["solve", "action_values", "best_action"]


@functools.cache
def _solver(game_cls: Any) -> Any:
    move_bit, step = game_cls.move_bit, game_cls.step_bits
    actions = range(game_cls.num_actions)

    @functools.cache
    def value(mine: int, theirs: int) -> int:
        """Game-theoretic value for the side to move: 1 win, 0 draw, -1 loss."""
        occupied, best = mine | theirs, -1
        for a in actions:
            if not move_bit(occupied, a):
                continue
            m, t, status = step(mine, theirs, a)
            v = 1 if status == 1 else 0 if status == 2 else -value(m, t)
            if v > best:
                best = v
                if best == 1:
                    break
        return best

    return value


def solve(game_cls: Any, mine: int, theirs: int) -> int:
    """Value of a non-terminal position for the side to move: 1 win, 0 draw, -1 loss."""
    return _solver(game_cls)(mine, theirs)


def action_values(game_cls: Any, mine: int, theirs: int) -> dict[int, int]:
    """Value of each legal action for the side to move (1 win, 0 draw, -1 loss)."""
    value = _solver(game_cls)
    out = {}
    for a in range(game_cls.num_actions):
        if game_cls.move_bit(mine | theirs, a):
            m, t, status = game_cls.step_bits(mine, theirs, a)
            out[a] = 1 if status == 1 else 0 if status == 2 else -value(m, t)
    return out


def best_action(game_cls: Any, mine: int, theirs: int, rng: random.Random) -> int:
    """An optimal action, chosen at random among the optimal ones."""
    values = action_values(game_cls, mine, theirs)
    top = max(values.values())
    return rng.choice([a for a, v in values.items() if v == top])
