"""Baseline players for player specs: ``random``, ``mcts:N`` (random-rollout MCTS) and ``minimax``."""

from __future__ import annotations

import random
from typing import Any

import numpy as np

from agents.mcts import minimax
from agents.mcts.rollout import RolloutMCTS
from lab.players import PlayerSpec, positive_int

__all__ = ["RandomPlayer", "MCTSPlayer", "MinimaxPlayer"]


def _no_options(spec: PlayerSpec, max_args: int, usage: str) -> None:
    if spec.options:
        raise spec.error(f"unknown option {next(iter(spec.options))!r}; usage: {usage}")
    if len(spec.args) > max_args:
        raise spec.error(f"too many arguments; usage: {usage}")


def _needs_bitboards(spec: PlayerSpec, game_cls: Any) -> None:
    if not (hasattr(game_cls, "step_bits") and hasattr(game_cls, "move_bit")):
        raise spec.error(f"{spec.name} needs a bitboard game (move_bit, step_bits); {game_cls.__name__} has none")


class RandomPlayer:
    """``random``: a uniformly random legal move."""

    needs_game_model = False
    """Only legal moves are needed: it plays PettingZoo environments too."""

    def __init__(self, seed: int = 0) -> None:
        self.name = "random"
        self.rng = random.Random(seed)

    @classmethod
    def from_spec(cls, spec: PlayerSpec, game_cls: Any, *, seed: int = 0, device: str = "cpu") -> RandomPlayer:
        _no_options(spec, 0, "random")
        return cls(seed)

    def act(self, game: Any) -> int:
        return self.rng.choice(game.legal_actions())

    def analyze(self, game: Any) -> tuple[np.ndarray, float]:
        mask = game.legal_mask()
        return mask / mask.sum(), 0.0


class MCTSPlayer:
    """``mcts:N``: Monte Carlo tree search with N random playouts per move (default 400)."""

    def __init__(self, game_cls: Any, simulations: int, seed: int = 0) -> None:
        self.name = f"mcts:{simulations}"
        self.search = RolloutMCTS(game_cls, simulations, seed=seed)

    @classmethod
    def from_spec(cls, spec: PlayerSpec, game_cls: Any, *, seed: int = 0, device: str = "cpu") -> MCTSPlayer:
        _no_options(spec, 1, "mcts:N (N playouts per move)")
        _needs_bitboards(spec, game_cls)
        sims = positive_int(spec, spec.args[0], "simulations") if spec.args else 400
        return cls(game_cls, sims, seed)

    def act(self, game: Any) -> int:
        visits, _ = self.search.search(game.mine, game.theirs)
        return self.search.best_action(visits)

    def analyze(self, game: Any) -> tuple[np.ndarray, float]:
        visits, value = self.search.search(game.mine, game.theirs)
        return visits / visits.sum(), value


class MinimaxPlayer:
    """``minimax``: perfect play by exhaustive search (small games only), random among optimal moves."""

    def __init__(self, game_cls: Any, seed: int = 0) -> None:
        self.name = "minimax"
        self.game_cls = game_cls
        self.rng = random.Random(seed)

    @classmethod
    def from_spec(cls, spec: PlayerSpec, game_cls: Any, *, seed: int = 0, device: str = "cpu") -> MinimaxPlayer:
        _no_options(spec, 0, "minimax")
        if not getattr(game_cls, "solvable", False):
            raise spec.error(f"{game_cls.name} is too large for an exhaustive search; use mcts:N instead")
        _needs_bitboards(spec, game_cls)
        return cls(game_cls, seed)

    def act(self, game: Any) -> int:
        return minimax.best_action(self.game_cls, game.mine, game.theirs, self.rng)

    def analyze(self, game: Any) -> tuple[np.ndarray, float]:
        values = minimax.action_values(self.game_cls, game.mine, game.theirs)
        top = max(values.values())
        policy = np.zeros(self.game_cls.num_actions, dtype=np.float32)
        best = [a for a, v in values.items() if v == top]
        policy[best] = 1.0 / len(best)
        return policy, float(top)
