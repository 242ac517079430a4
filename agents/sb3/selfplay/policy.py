"""A frozen MaskablePPO policy that picks moves in a board game (league opponents, ``ppo:RUN_DIR``)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from gymnasium import spaces

__all__ = ["PolicyNet", "game_spaces", "policy_kwargs_of", "build_policy"]


def game_spaces(game_cls: Any) -> tuple[spaces.Box, spaces.Discrete]:
    """Observation and action spaces of ``game_cls`` seen by PPO: the game's ``(planes, rows, cols)`` planes (the
    side to move's stones, then the opponent's) flattened to ``(planes * rows * cols,)`` float32, as SB3 asks of
    observations that are not images; one action per move."""
    rows, cols = game_cls.board_shape
    obs = spaces.Box(0.0, 1.0, shape=(game_cls.planes * rows * cols,), dtype=np.float32)
    return obs, spaces.Discrete(game_cls.num_actions)


def policy_kwargs_of(model: Any) -> dict[str, Any]:
    """The plain-value part of a model's policy arguments that rebuilds its network (net_arch, activation)."""
    kwargs = model.policy_kwargs
    out: dict[str, Any] = {}
    if "net_arch" in kwargs:
        out["net_arch"] = kwargs["net_arch"]
    if "activation_fn" in kwargs:
        out["activation"] = kwargs["activation_fn"].__name__
    return out


def build_policy(game_cls: Any, arch: dict[str, Any]) -> Any:
    """An untrained MaskableActorCriticPolicy for ``game_cls`` with the architecture ``arch`` (see policy_kwargs_of).

    Its features extractor only flattens the planes (MlpPolicy), which :class:`PolicyNet` relies on."""
    from sb3_contrib.common.maskable.policies import MaskableActorCriticPolicy

    obs, act = game_spaces(game_cls)
    kwargs: dict[str, Any] = {}
    if arch.get("net_arch") is not None:
        kwargs["net_arch"] = arch["net_arch"]
    if arch.get("activation"):
        kwargs["activation_fn"] = getattr(torch.nn, arch["activation"])
    policy = MaskableActorCriticPolicy(obs, act, lambda _progress: 0.0, **kwargs)
    policy.set_training_mode(False)
    return policy


class PolicyNet:
    """Picks moves with a policy network: masked to the legal moves, sampled or greedy.

    Args:
        policy: a MaskableActorCriticPolicy (its weights are not changed).
        game_cls: the game.
        greedy: play the most likely legal move; else sample one with ``rng``.
    """

    def __init__(self, policy: Any, game_cls: Any, *, greedy: bool = False) -> None:
        self.policy = policy
        self.game = game_cls
        self.greedy = greedy

    @torch.no_grad()
    def logits_values(self, games: list[Any], *, values: bool = True) -> tuple[np.ndarray, np.ndarray | None]:
        """Masked logits ``(n, num_actions)`` (-inf on illegal moves) and, with ``values``, the critic's values
        ``(n,)`` for the side to move (None without)."""
        states = np.stack([g.state() for g in games])  # (n, state_size)
        obs = torch.from_numpy(self.game.batch_encode(states)).flatten(1)  # (n, planes * rows * cols)
        mask = self.game.batch_legal(states)  # (n, A)
        extractor = self.policy.mlp_extractor
        logits = self.policy.action_net(extractor.forward_actor(obs)).numpy().astype(np.float64)
        logits[~mask] = -np.inf
        if not values:
            return logits, None
        return logits, self.policy.value_net(extractor.forward_critic(obs)).numpy()[:, 0]

    def probabilities(self, games: list[Any]) -> np.ndarray:
        """``(n, num_actions)`` move probabilities (0 on illegal moves)."""
        logits, _ = self.logits_values(games, values=False)
        z = np.exp(logits - logits.max(axis=1, keepdims=True))
        return z / z.sum(axis=1, keepdims=True)

    def act_many(self, games: list[Any], rng: np.random.Generator | None = None) -> list[int]:
        """One move per game, all in one network call."""
        if self.greedy or rng is None:
            logits, _ = self.logits_values(games, values=False)
            return logits.argmax(axis=1).tolist()
        probs = self.probabilities(games)
        u = rng.random(len(games))[:, None]
        picked = np.minimum((probs.cumsum(axis=1) < u).sum(axis=1), self.game.num_actions - 1)
        rows = np.arange(len(games))
        bad = probs[rows, picked] == 0.0  # rounding at the top of the cumulative sum: take the likeliest move
        picked[bad] = probs[bad].argmax(axis=1)
        return picked.tolist()

    def act(self, game: Any, rng: np.random.Generator | None = None) -> int:
        return int(self.act_many([game], rng)[0])
