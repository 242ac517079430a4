"""Shared machinery of the bitboard games: the object API over (mine, theirs) integer bitboards.

A position is two bitboards seen from the side to move: ``mine`` (its stones) and ``theirs``. A game
subclass supplies the board geometry (``CELL_BITS``), the scalar rules (``move_bit``, ``is_win``,
``FULL``) and their numpy counterparts (``batch_legal``, ``batch_step``); everything else lives here.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from lab.game import IllegalMoveError, moves_text, split_moves

__all__ = ["BitboardGame"]

_STONES = ("[bold red]X[/]", "[bold yellow]O[/]")


class BitboardGame:
    """Base of the lab's two-player bitboard games (see :class:`lab.game.Game` for the protocol)."""

    kind: ClassVar[str] = "game"
    name: ClassVar[str] = ""
    num_actions: ClassVar[int] = 0
    board_shape: ClassVar[tuple[int, int]] = (0, 0)
    planes: ClassVar[int] = 2
    state_size: ClassVar[int] = 2
    move_help: ClassVar[str] = ""
    solvable: ClassVar[bool] = False
    CELL_BITS: ClassVar[np.ndarray]
    """``(rows * cols,)``: the bit of each board cell, row by row from the top left."""
    FULL: ClassVar[int] = 0
    """The occupied bitboard of a full board."""

    def __init__(self) -> None:
        self.mine = 0
        """Bitboard of the side to move."""
        self.theirs = 0
        self.history: list[int] = []
        self._winner: int | None = None
        self._done = False

    # --- scalar rules (subclasses) ---------------------------------------------------------
    @classmethod
    def move_bit(cls, occupied: int, action: int) -> int:
        """The bit ``action`` sets on a board with ``occupied`` stones, or 0 if it is illegal."""
        raise NotImplementedError

    @classmethod
    def is_win(cls, bits: int) -> bool:
        """Whether the stones ``bits`` contain a winning line."""
        raise NotImplementedError

    def _illegal_reason(self, action: int) -> str:
        raise NotImplementedError

    @classmethod
    def step_bits(cls, mine: int, theirs: int, action: int) -> tuple[int, int, int]:
        """Scalar step for fast playouts: ``(mine', theirs', status)``, status 0 on, 1 mover won, 2 draw."""
        occupied = mine | theirs
        mine |= cls.move_bit(occupied, action)
        if cls.is_win(mine):
            return theirs, mine, 1
        if (occupied | mine) == cls.FULL:
            return theirs, mine, 2
        return theirs, mine, 0

    # --- one game in progress ---------------------------------------------------------------
    def copy(self) -> BitboardGame:
        g = type(self).__new__(type(self))
        g.mine, g.theirs, g.history = self.mine, self.theirs, list(self.history)
        g._winner, g._done = self._winner, self._done
        return g

    @property
    def to_play(self) -> int:
        return len(self.history) % 2

    @property
    def done(self) -> bool:
        return self._done

    @property
    def winner(self) -> int | None:
        return self._winner

    def legal_mask(self) -> np.ndarray:
        if self._done:
            return np.zeros(self.num_actions, dtype=bool)
        return type(self).batch_legal(self.state()[None])[0]

    def legal_actions(self) -> list[int]:
        return np.flatnonzero(self.legal_mask()).tolist()

    def why_illegal(self, action: int) -> str | None:
        if self._done:
            return "the game is over"
        if not isinstance(action, (int, np.integer)) or not 0 <= action < self.num_actions:
            return f"{action!r} is not an action (expected 0-{self.num_actions - 1})"
        if self.move_bit(self.mine | self.theirs, int(action)) == 0:
            return self._illegal_reason(int(action))
        return None

    def play(self, action: int) -> None:
        reason = self.why_illegal(action)
        if reason is not None:
            ok = isinstance(action, (int, np.integer)) and 0 <= action < self.num_actions
            label = self.format_move(action) if ok else repr(action)
            raise IllegalMoveError(f"illegal move {label}: {reason}")
        mover = self.to_play
        self.mine, self.theirs, status = self.step_bits(self.mine, self.theirs, int(action))
        self.history.append(int(action))
        if status == 1:
            self._winner, self._done = mover, True
        elif status == 2:
            self._done = True

    def state(self) -> np.ndarray:
        return np.array([self.mine, self.theirs], dtype=np.int64)

    def observation(self) -> np.ndarray:
        return type(self).batch_encode(self.state()[None])[0]

    def key(self) -> tuple[int, int]:
        """A hashable key of the position (transpositions share it)."""
        return (self.mine, self.theirs)

    def stones(self) -> np.ndarray:
        """``(rows, cols)`` int8 board: 0 empty, 1 first player's stone, 2 second player's."""
        first, second = (self.mine, self.theirs) if self.to_play == 0 else (self.theirs, self.mine)
        bits = self.CELL_BITS
        board = ((first >> bits) & 1) + 2 * ((second >> bits) & 1)
        return board.reshape(self.board_shape).astype(np.int8)

    def render(self) -> Any:
        from rich.text import Text

        return Text.from_markup(self.render_markup())

    def render_markup(self) -> str:
        """The board as rich markup: X for the first player, O for the second."""
        rows, cols = self.board_shape
        board = self.stones()
        lines = []
        for r in range(rows):
            cells = [_STONES[v - 1] if v else self._empty_cell(r, c) for c, v in enumerate(board[r])]
            lines.append(" ".join(cells))
        footer = self._footer()
        if footer:
            lines.append(footer)
        return "\n".join(lines)

    def _empty_cell(self, row: int, col: int) -> str:
        return "[dim].[/]"

    def _footer(self) -> str:
        return ""

    def __repr__(self) -> str:
        moves = moves_text(type(self), self.history)
        return f"{type(self).__name__}({moves!r})"

    def __str__(self) -> str:
        from rich.text import Text

        return Text.from_markup(self.render_markup()).plain

    @classmethod
    def from_moves(cls, moves: str) -> BitboardGame:
        """The position after ``moves`` (1-based move characters, e.g. ``"4453"``)."""
        game = cls()
        for ch in split_moves(cls, moves):
            game.play(cls.parse_move(ch))
        return game

    # --- move text ---------------------------------------------------------------------------
    @classmethod
    def parse_move(cls, text: str) -> int:
        t = text.strip()
        # ASCII digits only, and few of them: int() refuses strings past 4,300 digits and "²".isdigit() is True
        if not (t.isascii() and t.isdigit() and len(t) <= 4) or not 1 <= int(t) <= cls.num_actions:
            shown = repr(t) if len(t) <= 20 else f"{t[:20]!r}... ({len(t):,} characters)"
            raise IllegalMoveError(f"{shown} is not a move: type {cls.move_help}")
        return int(t) - 1

    @classmethod
    def format_move(cls, action: int) -> str:
        return str(int(action) + 1)

    # --- batched -----------------------------------------------------------------------------
    @classmethod
    def batch_initial(cls, n: int) -> np.ndarray:
        return np.zeros((n, cls.state_size), dtype=np.int64)

    @classmethod
    def batch_encode(cls, states: np.ndarray) -> np.ndarray:
        # (n, 2, 1) >> (rows*cols,) -> (n, 2, rows*cols) -> (n, 2, rows, cols)
        bits = (states[:, :, None] >> cls.CELL_BITS[None, None, :]) & 1
        return bits.astype(np.float32).reshape(len(states), cls.planes, *cls.board_shape)

    @classmethod
    def batch_legal(cls, states: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    @classmethod
    def batch_step(cls, states: np.ndarray, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        raise NotImplementedError

    @classmethod
    def symmetries(cls) -> list[tuple[np.ndarray, np.ndarray]]:
        n = cls.board_shape[0] * cls.board_shape[1]
        return [(np.arange(n), np.arange(cls.num_actions))]
