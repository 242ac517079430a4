"""AlphaZero for the lab's board games: batched PUCT search, a residual policy-value network, self-play training."""

from agents.alphazero.agent import AlphaZero, AlphaZeroConfig
from agents.alphazero.network import NetEvaluator, PolicyValueNet, uniform_evaluator
from agents.alphazero.players import AlphaZeroPlayer
from agents.alphazero.search import Forest, SearchParams

__all__ = [
    "AlphaZero",
    "AlphaZeroConfig",
    "AlphaZeroPlayer",
    "Forest",
    "NetEvaluator",
    "PolicyValueNet",
    "SearchParams",
    "uniform_evaluator",
]
