"""Network-free search: random-rollout MCTS and exhaustive minimax, and the baseline players built on them."""

from agents.mcts.players import MCTSPlayer, MinimaxPlayer, RandomPlayer
from agents.mcts.rollout import RolloutMCTS

__all__ = ["MCTSPlayer", "MinimaxPlayer", "RandomPlayer", "RolloutMCTS"]
