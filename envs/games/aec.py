"""A PettingZoo AEC environment around any lab game model (it passes PettingZoo's ``api_test``).

>>> from envs.games.tictactoe import TicTacToe
>>> env = GameAECEnv(TicTacToe)
>>> env.reset(seed=0)
>>> env.agent_selection
'player_0'
>>> env.step(4)
>>> int(env.observe("player_1")["observation"][1, 1, 1])
1
"""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces
from pettingzoo import AECEnv

__all__ = ["GameAECEnv", "aec_env"]


class GameAECEnv(AECEnv):
    """Two agents, ``player_0`` (moves first) and ``player_1``, taking turns in ``game_cls``.

    Observations are PettingZoo's classic-game dicts: ``observation`` (rows, cols, 2) int8 planes of
    the observing agent's stones then the opponent's, and ``action_mask`` (num_actions,) int8, all
    zeros for the agent not to move. A win gives +1 / -1, a draw 0 / 0; an illegal move ends the game
    with -1 for the mover and 0 for the other (like PettingZoo's ``TerminateIllegalWrapper``).
    """

    metadata = {"render_modes": ["ansi"], "is_parallelizable": False}

    def __init__(self, game_cls: type, render_mode: str | None = None) -> None:
        super().__init__()
        self.game_cls = game_cls
        self.metadata = {**self.metadata, "name": f"lab_{game_cls.name}_v1"}
        self.render_mode = render_mode
        self.possible_agents = ["player_0", "player_1"]
        rows, cols = game_cls.board_shape
        obs_space = spaces.Dict(
            {
                "observation": spaces.Box(low=0, high=1, shape=(rows, cols, 2), dtype=np.int8),
                "action_mask": spaces.Box(low=0, high=1, shape=(game_cls.num_actions,), dtype=np.int8),
            }
        )
        self.observation_spaces = {a: obs_space for a in self.possible_agents}
        self.action_spaces = {a: spaces.Discrete(game_cls.num_actions) for a in self.possible_agents}
        self.game = game_cls()

    def observation_space(self, agent: str) -> spaces.Space:
        return self.observation_spaces[agent]

    def action_space(self, agent: str) -> spaces.Space:
        return self.action_spaces[agent]

    def reset(self, seed: int | None = None, options: dict | None = None) -> None:
        self.game = self.game_cls()
        self.agents = self.possible_agents[:]
        self.rewards = dict.fromkeys(self.agents, 0)
        self._cumulative_rewards = dict.fromkeys(self.agents, 0)
        self.terminations = dict.fromkeys(self.agents, False)
        self.truncations = dict.fromkeys(self.agents, False)
        self.infos = {a: {} for a in self.agents}
        self.agent_selection = self.agents[0]

    def observe(self, agent: str) -> dict[str, np.ndarray]:
        planes = self.game.observation()  # (2, rows, cols) from the side to move
        if self.possible_agents.index(agent) != self.game.to_play:
            planes = planes[::-1]
        mask = np.zeros(self.game.num_actions, dtype=np.int8)
        if agent == self.agent_selection and not self.game.done:
            mask[self.game.legal_mask()] = 1
        return {"observation": np.ascontiguousarray(planes.transpose(1, 2, 0)).astype(np.int8), "action_mask": mask}

    def step(self, action: Any) -> None:
        agent = self.agent_selection
        if self.terminations[agent] or self.truncations[agent]:
            self._was_dead_step(action)
            return
        self._cumulative_rewards[agent] = 0
        self.rewards = dict.fromkeys(self.agents, 0)
        other = self.possible_agents[1 - self.possible_agents.index(agent)]
        if self.game.why_illegal(int(action)) is not None:
            self.rewards[agent] = -1
            self.terminations = dict.fromkeys(self.agents, True)
            self.infos[agent]["illegal_move"] = True
        else:
            self.game.play(int(action))
            if self.game.done:
                if self.game.winner is not None:
                    self.rewards[agent], self.rewards[other] = 1, -1
                self.terminations = dict.fromkeys(self.agents, True)
        self.agent_selection = other
        self._accumulate_rewards()

    def render(self) -> str | None:
        if self.render_mode == "ansi":
            return str(self.game)
        return None

    def close(self) -> None:
        pass


def aec_env(game: str | type, render_mode: str | None = None) -> GameAECEnv:
    """A :class:`GameAECEnv` for a game class or a registered game name (``"connect_four"``)."""
    if isinstance(game, str):
        from lab.game import resolve_game

        game = resolve_game(game)
    return GameAECEnv(game, render_mode=render_mode)
