"""One board game as a single-agent Gymnasium env with action masks: the opponent moves inside ``step``.

>>> from envs.games.tictactoe import TicTacToe
>>> from agents.sb3.selfplay.config import LeagueConfig
>>> from agents.sb3.selfplay.league import League
>>> from agents.sb3.selfplay.player import fixed_opponent
>>> league = League(LeagueConfig(players=["random"]), fixed_opponent(TicTacToe, seed=0))
>>> env = SelfPlayEnv(TicTacToe, league)
>>> obs, info = env.reset(seed=0)
>>> obs.shape, env.action_masks().tolist()
((18,), [True, True, True, True, True, True, True, True, True])
"""

from __future__ import annotations

import copy
import time
from typing import Any

import gymnasium as gym
import numpy as np
from stable_baselines3.common.vec_env import DummyVecEnv

from agents.sb3.selfplay.league import League
from agents.sb3.selfplay.policy import game_spaces

__all__ = ["SelfPlayEnv", "SelfPlayVecEnv"]


class SelfPlayEnv(gym.Env):
    """The learner's side of a game against an opponent drawn from ``league`` for each game.

    Observations are the game's ``(planes, rows, cols)`` planes from the learner's side (it is always the
    side to move when it observes), flattened; ``action_masks()`` (sb3-contrib's protocol) is exactly the legal moves.
    The learner moves first in every other game (even games since the last seeded reset); the opponent's replies are made
    inside :meth:`step` (and :meth:`reset` when it moves first). Rewards are the learner's: +1 win, -1 loss,
    0 draw, given on the step that ends the game; an illegal move (only unmasked callers make one) ends the
    game as a loss, as PettingZoo's ``TerminateIllegalWrapper`` does. The last step's ``info["selfplay"]`` holds the opponent,
    the learner's score and whether it moved first; ``info["episode"]`` is the record SB3's Monitor would
    write (``r``, ``l``, ``t``), so the env needs no Monitor wrapper.
    """

    metadata = {"render_modes": ["ansi"]}

    def __init__(self, game_cls: Any, league: League, render_mode: str | None = None) -> None:
        self.game_cls = game_cls
        self.league = league
        self.render_mode = render_mode
        self.observation_space, self.action_space = game_spaces(game_cls)
        self.game = game_cls()
        self.opponent_id = ""
        self.opponent: Any = None
        self.learner_first = True
        self._games = 0
        self._moves = 0
        self._me = 0
        self._illegal = False
        self._t0 = time.perf_counter()

    def _obs(self) -> np.ndarray:
        return self.game.observation().ravel()

    def action_masks(self) -> np.ndarray:
        """``(num_actions,)`` bool: the legal moves of the learner now."""
        return self.game.legal_mask()

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        if seed is not None:  # a seeded reset starts the sequence again: the same seed, the same games
            self._games = 0
        self.game = self.game_cls()
        self.learner_first = self._games % 2 == 0
        self._games += 1
        self._moves = 0
        self._illegal = False
        self._t0 = time.perf_counter()
        self.opponent_id = self.league.draw(self.np_random)
        self.opponent = self.league.opponent(self.opponent_id)  # held for the game: the pool may drop it meanwhile
        if not self.learner_first:
            self._opponent_moves()
        return self._obs(), {}

    def _opponent_moves(self) -> None:
        action = self.opponent.act(self.game, self.np_random)
        self.game.play(int(action))

    # The three parts of a step; SelfPlayVecEnv calls them to batch the opponents' moves across envs.
    def learner_move(self, action: Any) -> bool:
        """Play the learner's move; returns whether the opponent must reply (the game goes on)."""
        self._me = self.game.to_play
        self._moves += 1
        if self.game.why_illegal(int(action)) is not None:  # masked PPO never plays one; unmasked callers can
            self._illegal = True
            return False
        self.game.play(int(action))
        return not self.game.done

    def opponent_move(self, action: int) -> None:
        """Play the opponent's reply."""
        self.game.play(int(action))

    def outcome(self) -> tuple[np.ndarray, float, bool, bool, dict]:
        """The step's result once the opponent has replied (or the learner's move ended the game)."""
        if not (self.game.done or self._illegal):
            return self._obs(), 0.0, False, False, {}
        winner = self.game.winner
        reward = -1.0 if self._illegal else 0.0 if winner is None else (1.0 if winner == self._me else -1.0)
        info = {
            "selfplay": {"opponent": self.opponent_id, "score": (reward + 1.0) / 2.0, "learner_first": self.learner_first},
            "episode": {"r": reward, "l": self._moves, "t": round(time.perf_counter() - self._t0, 6)},  # Monitor's record
        }
        return self._obs(), reward, True, False, info

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict]:
        if self.learner_move(action):
            self._opponent_moves()
        return self.outcome()

    def render(self) -> str | None:
        return str(self.game) if self.render_mode == "ansi" else None


class SelfPlayVecEnv(DummyVecEnv):
    """``SelfPlayEnv``s stepped together, the opponents' replies batched: all envs whose opponent is the same
    policy network get their moves from one network call (``act_many``), in env order, sampled with this
    vec env's generator (seeded by :meth:`seed`). Otherwise DummyVecEnv: auto-reset, ``terminal_observation``.
    """

    def __init__(self, env_fns: list[Any]) -> None:
        super().__init__(env_fns)
        self.rng = np.random.default_rng(0)

    def seed(self, seed: int | None = None) -> Any:
        self.rng = np.random.default_rng(seed)
        return super().seed(seed)

    def step_wait(self) -> Any:
        envs = [e.unwrapped for e in self.envs]
        waiting: dict[str, list[int]] = {}
        for i, env in enumerate(envs):
            if env.learner_move(self.actions[i]):
                waiting.setdefault(env.opponent_id, []).append(i)
        for opponent_id, idx in waiting.items():
            opponent = envs[idx[0]].opponent
            actions = opponent.act_many([envs[i].game for i in idx], self.rng)
            for i, a in zip(idx, actions):
                envs[i].opponent_move(a)
        for i, env in enumerate(envs):
            obs, self.buf_rews[i], terminated, truncated, self.buf_infos[i] = env.outcome()
            self.buf_dones[i] = terminated or truncated
            self.buf_infos[i]["TimeLimit.truncated"] = truncated and not terminated
            if self.buf_dones[i]:
                self.buf_infos[i]["terminal_observation"] = obs
                obs, self.reset_infos[i] = self.envs[i].reset()
            self._save_obs(i, obs)
        return self._obs_from_buf(), np.copy(self.buf_rews), np.copy(self.buf_dones), copy.deepcopy(self.buf_infos)
