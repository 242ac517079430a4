"""Tic-Tac-Toe on two 9-bit bitboards.

Version History:
    v1: first version; observations, action masks, rewards and terminations match PettingZoo's
        ``tictactoe_v3`` move by move (``tests/envs/test_games_vs_pettingzoo.py``).

Action ``a`` (and bit ``a``) is the cell in row ``a // 3``, column ``a % 3``; people number the cells
1-9 row by row. PettingZoo's action ``a`` and observation ``obs[a // 3, a % 3]`` are the same cell.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from envs.games.base import BitboardGame

__all__ = ["TicTacToe"]

_LINES = [0b000000111, 0b000111000, 0b111000000, 0b001001001, 0b010010010, 0b100100100, 0b100010001, 0b001010100]
_LINES_A = np.array(_LINES, dtype=np.int64)
_CELLS_A = np.arange(9, dtype=np.int64)
_FULL = 0b111111111


class TicTacToe(BitboardGame):
    """Tic-Tac-Toe: three in a row, column or diagonal on a 3x3 board wins."""

    name: ClassVar[str] = "tictactoe"
    num_actions: ClassVar[int] = 9
    board_shape: ClassVar[tuple[int, int]] = (3, 3)
    move_help: ClassVar[str] = "a cell number 1-9, row by row from the top left"
    solvable: ClassVar[bool] = True
    CELL_BITS: ClassVar[np.ndarray] = _CELLS_A
    FULL: ClassVar[int] = _FULL

    @classmethod
    def move_bit(cls, occupied: int, action: int) -> int:
        bit = 1 << action
        return 0 if occupied & bit else bit

    @classmethod
    def is_win(cls, bits: int) -> bool:
        for line in _LINES:
            if bits & line == line:
                return True
        return False

    def _illegal_reason(self, action: int) -> str:
        return f"cell {action + 1} is already taken"

    def _empty_cell(self, row: int, col: int) -> str:
        return f"[dim]{3 * row + col + 1}[/]"

    @classmethod
    def batch_legal(cls, states: np.ndarray) -> np.ndarray:
        occupied = states[:, 0] | states[:, 1]
        return ((occupied[:, None] >> _CELLS_A[None, :]) & 1) == 0  # (n, 9)

    @classmethod
    def batch_step(cls, states: np.ndarray, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        mine, theirs = states[:, 0], states[:, 1]
        bit = np.left_shift(1, actions.astype(np.int64))
        mine = mine | bit
        won = ((mine[:, None] & _LINES_A[None, :]) == _LINES_A[None, :]).any(axis=1)
        terminal = won | ((mine | theirs) == _FULL)
        return np.stack([theirs, mine], axis=1), terminal, won.astype(np.float32)

    @classmethod
    def symmetries(cls) -> list[tuple[np.ndarray, np.ndarray]]:
        grid = np.arange(9).reshape(3, 3)
        out = []
        for k in range(4):
            g = np.rot90(grid, k)
            for h in (g, g[:, ::-1]):
                perm = h.ravel().copy()
                out.append((perm, perm))
        return out
