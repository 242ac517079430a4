"""Connect Four on two 64-bit bitboards: 7 columns of 7 bits (6 cells and a sentinel), bottom up.

Version History:
    v1: first version; observations, action masks, rewards and terminations match PettingZoo's
        ``connect_four_v3`` move by move (``tests/envs/test_games_vs_pettingzoo.py``).

Bit ``7 * column + row`` (row 0 at the bottom) holds a stone. The empty sentinel bit on top of each
column keeps the shifted line tests of :meth:`ConnectFour.is_win` from wrapping to the next column.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from envs.games.base import BitboardGame

__all__ = ["ConnectFour"]

ROWS, COLS = 6, 7
_H1 = ROWS + 1  # bits per column, the sentinel included
_BOTTOM = [1 << (_H1 * c) for c in range(COLS)]
_TOP = [1 << (_H1 * c + ROWS - 1) for c in range(COLS)]
_COLUMN = [((1 << ROWS) - 1) << (_H1 * c) for c in range(COLS)]
_FULL = sum(_COLUMN)
_DIRECTIONS = (1, _H1, _H1 - 1, _H1 + 1)  # vertical, horizontal, the two diagonals

_BOTTOM_A = np.array(_BOTTOM, dtype=np.int64)
_TOP_A = np.array(_TOP, dtype=np.int64)
_COLUMN_A = np.array(_COLUMN, dtype=np.int64)


def _wins(bits: np.ndarray) -> np.ndarray:
    """Vectorized four-in-a-row test on ``(n,)`` int64 bitboards."""
    found = np.zeros(bits.shape, dtype=bool)
    for d in _DIRECTIONS:
        pairs = bits & (bits >> d)
        found |= (pairs & (pairs >> (2 * d))) != 0
    return found


class ConnectFour(BitboardGame):
    """Connect Four: drop stones in 7 columns of 6; four in a row (any direction) wins."""

    name: ClassVar[str] = "connect_four"
    num_actions: ClassVar[int] = COLS
    board_shape: ClassVar[tuple[int, int]] = (ROWS, COLS)
    move_help: ClassVar[str] = "a column number 1-7, counted from the left"
    solvable: ClassVar[bool] = False
    # Display cell (r, c), r = 0 at the top, is bit 7c + (5 - r).
    CELL_BITS: ClassVar[np.ndarray] = np.array(
        [_H1 * c + (ROWS - 1 - r) for r in range(ROWS) for c in range(COLS)], dtype=np.int64
    )
    FULL: ClassVar[int] = _FULL

    @classmethod
    def move_bit(cls, occupied: int, action: int) -> int:
        return (occupied + _BOTTOM[action]) & _COLUMN[action] if not occupied & _TOP[action] else 0

    @classmethod
    def is_win(cls, bits: int) -> bool:
        for d in _DIRECTIONS:
            pairs = bits & (bits >> d)
            if pairs & (pairs >> (2 * d)):
                return True
        return False

    def _illegal_reason(self, action: int) -> str:
        return f"column {action + 1} is full"

    def _footer(self) -> str:
        return " ".join(str(c + 1) for c in range(COLS))

    @classmethod
    def batch_legal(cls, states: np.ndarray) -> np.ndarray:
        occupied = states[:, 0] | states[:, 1]
        return (occupied[:, None] & _TOP_A[None, :]) == 0  # (n, 7)

    @classmethod
    def batch_step(cls, states: np.ndarray, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        mine, theirs = states[:, 0], states[:, 1]
        occupied = mine | theirs
        bit = (occupied + _BOTTOM_A[actions]) & _COLUMN_A[actions]
        mine = mine | bit
        won = _wins(mine)
        terminal = won | ((occupied | bit) == _FULL)
        return np.stack([theirs, mine], axis=1), terminal, won.astype(np.float32)

    @classmethod
    def symmetries(cls) -> list[tuple[np.ndarray, np.ndarray]]:
        cells = np.arange(ROWS * COLS).reshape(ROWS, COLS)
        actions = np.arange(COLS)
        return [(cells.ravel(), actions), (cells[:, ::-1].ravel().copy(), actions[::-1].copy())]
