"""The maze Gymnasium environment: walk from the start to the goal of a level drawn from a level source.

Version History:
* v0: initial version (4 moves; reward ``1 - 0.9 * steps / max_steps`` at the goal, else 0).
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from lab.errors import LabError
from lab.events import LevelDrawn
from envs.mazes.levels import LevelSource, ProceduralSource, Split, parse_source
from envs.mazes.maze import OPEN, check_size, is_solvable, is_valid, level_hash, repair, start_goal

__all__ = ["MazeEnv"]

_MOVES = np.array(((-1, 0), (0, 1), (1, 0), (0, -1)))  # up, right, down, left


class MazeEnv(gym.Env):
    """A grid maze: reach the goal ``(H-2, W-2)`` from the start ``(1, 1)``.

    Observation: the full grid as one-hot planes ``(3, H, W)`` float32 (wall, agent, goal), or with
    ``view=V`` (odd) the ``V x V`` window around the agent as ``(2, V, V)`` planes (wall, goal; outside
    the maze is wall). Actions: 0 up, 1 right, 2 down, 3 left; a move into a wall stays put. Episodes
    end at the goal (reward ``1 - 0.9 * steps / max_steps``) or are truncated after ``max_steps``.

    On reset a level is drawn from the source and checked (start and goal open and connected); a bad
    one is repaired (border closed, start and goal opened) if that suffices, else redrawn, and after
    ``max_tries`` bad draws a procedural level is used instead. Each reset's outcome is a
    :class:`lab.events.LevelDrawn` event, handed out in the next step's ``info["lab_events"]``; ``info``
    also carries ``level_source`` and ``level_hash``.

    >>> env = MazeEnv(7)
    >>> obs, info = env.reset(seed=0)
    >>> obs.shape, info["level_source"]
    ((3, 7, 7), 'procedural')
    """

    metadata = {"render_modes": ["rgb_array", "ansi"], "render_fps": 8, "success_return": 0.0}

    def __init__(
        self,
        size: int = 13,
        source: str | LevelSource = "procedural",
        *,
        view: int | None = None,
        levels: Split = "train",
        max_steps: int | None = None,
        max_tries: int = 8,
        render_mode: str | None = None,
    ) -> None:
        self.size = check_size(size)
        if view is not None and (isinstance(view, bool) or not isinstance(view, int) or view < 3 or view % 2 == 0):
            raise LabError(f"env.view: expected an odd number >= 3, got {view!r}")
        if max_tries < 1:
            raise LabError(f"env.max_tries: expected a positive number, got {max_tries}")
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise LabError(f"render_mode: expected one of {self.metadata['render_modes']}, got {render_mode!r}")
        self.source = parse_source(self.size, source, levels) if isinstance(source, str) else source
        self.view = view
        self.max_steps = int(max_steps or 4 * self.size * self.size // 2)
        self.max_tries = max_tries
        self.render_mode = render_mode
        self._fallback = ProceduralSource(self.size)
        shape = (3, self.size, self.size) if view is None else (2, view, view)
        self.observation_space = spaces.Box(0.0, 1.0, shape=shape, dtype=np.float32)
        self.action_space = spaces.Discrete(4)
        self.grid = np.ones((self.size, self.size), dtype=np.int8)
        self.start, self.goal = start_goal(self.grid.shape)
        self.pos = np.array(self.start)
        self.steps = 0
        self._pending: list[LevelDrawn] = []
        self._info: dict[str, Any] = {}

    # --- levels ----------------------------------------------------------------------------
    def _draw_level(self) -> tuple[np.ndarray, str, LevelDrawn]:
        rejections = 0
        for _ in range(self.max_tries):
            grid = np.asarray(self.source.draw(self.np_random))
            if grid.shape == self.grid.shape:
                if is_valid(grid):
                    return grid.astype(np.int8), self.source.name, self._event(grid, "ok", rejections)
                fixed = repair(grid)
                if is_solvable(fixed):
                    return fixed, self.source.name, self._event(fixed, "repaired", rejections)
            rejections += 1
        grid = self._fallback.draw(self.np_random)
        return grid, self._fallback.name, self._event(grid, "fallback", rejections)

    def _event(self, grid: np.ndarray, outcome: str, rejections: int) -> LevelDrawn:
        # time=0: info stays deterministic (check_env compares it); the trainer stamps step and time on publishing
        return LevelDrawn(
            source=self.source.name, level_hash=level_hash(grid), outcome=outcome, rejections=rejections, time=0.0
        )

    # --- gymnasium API ---------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        if options and "level" in options:  # a given level (tests, replays): checked like a drawn one
            grid = np.asarray(options["level"], dtype=np.int8)
            if grid.shape != self.grid.shape or not is_solvable(grid):
                raise LabError(f"reset(options={{'level': ...}}): expected a solvable {self.size}x{self.size} maze")
            self.grid, name = grid, "given"
            event = LevelDrawn(source=name, level_hash=level_hash(grid), time=0.0)
        else:
            self.grid, name, event = self._draw_level()
        self._pending.append(event)
        self.pos = np.array(self.start)
        self.steps = 0
        self._info = {"level_source": name, "level_hash": event.level_hash}
        return self._obs(), dict(self._info)

    def step(self, action: int) -> tuple[np.ndarray, float, bool, bool, dict]:
        nxt = self.pos + _MOVES[int(action)]
        if self.grid[nxt[0], nxt[1]] == OPEN:  # the border is wall, so nxt never leaves the grid
            self.pos = nxt
        self.steps += 1
        terminated = bool(self.pos[0] == self.goal[0] and self.pos[1] == self.goal[1])
        truncated = not terminated and self.steps >= self.max_steps
        reward = 1.0 - 0.9 * self.steps / self.max_steps if terminated else 0.0
        info = dict(self._info)
        info["is_success"] = terminated
        if self._pending:
            info["lab_events"] = tuple(self._pending)
            self._pending.clear()
        return self._obs(), float(reward), terminated, truncated, info

    def _obs(self) -> np.ndarray:
        r, c = int(self.pos[0]), int(self.pos[1])
        if self.view is None:
            obs = np.zeros((3, self.size, self.size), dtype=np.float32)
            obs[0] = self.grid
            obs[1, r, c] = 1.0
            obs[2][self.goal] = 1.0
            return obs
        v = self.view // 2
        padded = np.pad(self.grid, v, constant_values=1)
        obs = np.zeros((2, self.view, self.view), dtype=np.float32)
        obs[0] = padded[r : r + self.view, c : c + self.view]
        gr, gc = self.goal[0] - r + v, self.goal[1] - c + v
        if 0 <= gr < self.view and 0 <= gc < self.view:
            obs[1, gr, gc] = 1.0
        return obs

    def render(self) -> Any:
        if self.render_mode == "ansi":
            rows = []
            for i, row in enumerate(self.grid):
                chars = ["#" if v else "." for v in row]
                if i == self.goal[0]:
                    chars[self.goal[1]] = "G"
                if i == self.pos[0]:
                    chars[self.pos[1]] = "A"
                rows.append("".join(chars))
            return "\n".join(rows) + "\n"
        if self.render_mode == "rgb_array":
            img = np.where(self.grid[..., None] == 1, 40, 235).astype(np.uint8).repeat(3, axis=2)
            img[self.goal] = (40, 180, 60)
            img[int(self.pos[0]), int(self.pos[1])] = (220, 50, 50)
            return img.repeat(16, axis=0).repeat(16, axis=1)
        return None
