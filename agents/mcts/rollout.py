"""Pure Monte Carlo tree search with random rollouts (UCT): the ``mcts:N`` baseline, no network.

Kocsis and Szepesvari, "Bandit based Monte-Carlo Planning" (2006). Works on any game with the scalar
bitboard rules of :class:`envs.games.base.BitboardGame` (``move_bit``, ``step_bits``), read through the
game object only (``mine``, ``theirs``), so it needs no import from ``envs/``.
"""

from __future__ import annotations

import math
import random
from typing import Any

import numpy as np

__all__ = ["RolloutMCTS"]


class _Node:
    __slots__ = ("visits", "value_sum", "children", "untried", "mine", "theirs", "status")

    def __init__(self, mine: int, theirs: int, status: int, untried: list[int]) -> None:
        self.visits = 0
        self.value_sum = 0.0
        """Sum of results for the player who moved *into* this node."""
        self.children: dict[int, _Node] = {}
        self.untried = untried
        self.mine, self.theirs = mine, theirs
        self.status = status
        """0 game goes on, 1 the move into this node won, 2 draw."""


class RolloutMCTS:
    """UCT search that estimates positions by random playouts.

    Args:
        game_cls: a game class with ``num_actions``, ``move_bit(occupied, action)`` and
            ``step_bits(mine, theirs, action)``.
        simulations: playouts per move.
        seed: seed of the playouts and tie-breaks.
        exploration: the UCT constant ``c`` in ``Q + c * sqrt(ln N / n)``.
    """

    def __init__(self, game_cls: Any, simulations: int, *, seed: int = 0, exploration: float = 1.4) -> None:
        self.game_cls = game_cls
        self.simulations = simulations
        self.exploration = exploration
        self.rng = random.Random(seed)
        self._actions = range(game_cls.num_actions)

    def _legal(self, mine: int, theirs: int) -> list[int]:
        occupied = mine | theirs
        move_bit = self.game_cls.move_bit
        return [a for a in self._actions if move_bit(occupied, a)]

    def _rollout(self, mine: int, theirs: int) -> float:
        """Random playout; the result for the side to move in ``(mine, theirs)``: 1, 0 or -1."""
        step, rng, sign = self.game_cls.step_bits, self.rng, 1.0
        while True:
            legal = self._legal(mine, theirs)
            mine, theirs, status = step(mine, theirs, legal[int(rng.random() * len(legal))])
            if status == 1:
                return sign
            if status == 2:
                return 0.0
            sign = -sign

    def search(self, mine: int, theirs: int) -> tuple[np.ndarray, float]:
        """Run the simulations from ``(mine, theirs)`` (a position with legal moves).

        Returns:
            ``(visits, value)``: ``(num_actions,)`` root visit counts and the value for the side to move.
        """
        root = _Node(mine, theirs, 0, self._legal(mine, theirs))
        c, rng, step = self.exploration, self.rng, self.game_cls.step_bits
        for _ in range(self.simulations):
            node, path = root, [root]
            # 1. Select through fully expanded nodes by UCT.
            while not node.untried and node.children and node.status == 0:
                log_n = math.log(node.visits)
                best, best_score = None, -math.inf
                for child in node.children.values():
                    score = child.value_sum / child.visits + c * math.sqrt(log_n / child.visits)
                    if score > best_score:
                        best, best_score = child, score
                node = best
                path.append(node)
            # 2. Expand one untried move.
            if node.status == 0 and node.untried:
                action = node.untried.pop(int(rng.random() * len(node.untried)))
                m, t, status = step(node.mine, node.theirs, action)
                child = _Node(m, t, status, self._legal(m, t) if status == 0 else [])
                node.children[action] = child
                node = child
                path.append(node)
            # 3. Evaluate, for the player who moved into `node`.
            if node.status == 1:
                result = 1.0
            elif node.status == 2:
                result = 0.0
            else:
                result = -self._rollout(node.mine, node.theirs)
            # 4. Back up, flipping the sign at each ply.
            for n in reversed(path):
                n.visits += 1
                n.value_sum += result
                result = -result
        visits = np.zeros(self.game_cls.num_actions, dtype=np.float32)
        total, value = 0, 0.0
        for action, child in root.children.items():
            visits[action] = child.visits
            total += child.visits
            value += child.value_sum
        return visits, (value / total if total else 0.0)

    def best_action(self, visits: np.ndarray) -> int:
        """The most visited action, ties broken at random."""
        best = np.flatnonzero(visits == visits.max())
        return int(best[int(self.rng.random() * len(best))])
