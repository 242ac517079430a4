"""Who plays whom with which opening: pairings, balanced colours, varied openings that are not already lost.

Every opening is played twice with colours swapped, and every pairing plays the same openings in the
same order (as cutechess-cli and fastchess do), so no pairing gets easier positions. Openings are a few
random plies drawn by ``seed`` (or lines of an opening book file). A random opening is rejected when
the game is over, or when an exhaustive search of the next ``depth`` plies finds a forced win for
either side (for game models with the batched API; PettingZoo environments offer no model, so only
finished games are rejected there).

>>> pairings(["a", "b", "c"])
[('a', 'b'), ('a', 'c'), ('b', 'c')]
>>> pairings(["a", "b", "c"], gauntlet="b")
[('b', 'a'), ('b', 'c')]
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lab.errors import LabError
from lab.game import moves_text as _moves_text
from lab.game import split_moves

__all__ = ["Slot", "pairings", "game_id", "slots_for", "OpeningSource", "forced_result", "read_book", "moves_text"]

LOST_DEPTH = 4
"""Plies searched exhaustively to reject openings that are already won or lost."""


@dataclass(frozen=True)
class Slot:
    """One game of the tournament: ``first`` moves first from ``opening`` (actions) against ``second``."""

    id: str
    first: str
    second: str
    opening_index: int


def pairings(names: Sequence[str], gauntlet: str | None = None) -> list[tuple[str, str]]:
    """Round robin over ``names``, or ``gauntlet`` against every other player."""
    if gauntlet is not None:
        return [(gauntlet, n) for n in names if n != gauntlet]
    return [(a, b) for i, a in enumerate(names) for b in names[i + 1:]]


def game_id(pair: tuple[str, str], opening_index: int, swapped: bool) -> str:
    """``a|b|3|1``: pairing ``a``-``b``, opening 3, colours swapped (``b`` moves first)."""
    return f"{pair[0]}|{pair[1]}|{opening_index}|{int(swapped)}"


def slots_for(pair: tuple[str, str], opening_index: int) -> list[Slot]:
    """The two games of one opening in one pairing, one with each colour."""
    a, b = pair
    return [Slot(game_id(pair, opening_index, False), a, b, opening_index),
            Slot(game_id(pair, opening_index, True), b, a, opening_index)]


def moves_text(game_cls: Any, actions: Sequence[int]) -> str:
    """The moves as ``lab analyze`` and ``--openings`` read them: ``"4453"``, or ``"72 300 361"`` for games
    with multi-character moves (:func:`lab.game.moves_text`)."""
    return _moves_text(game_cls, actions)


def forced_result(game_cls: Any, state: np.ndarray, depth: int) -> int:
    """+1 if the side to move can force a win within ``depth`` plies, -1 if it must lose, 0 otherwise.

    An exhaustive negamax over the game's batched API (``batch_legal``, ``batch_step``): at depth 4
    on Connect Four that is at most 2,401 positions, a few milliseconds.
    """
    return int(_values(game_cls, state[None], depth)[0])


def _values(game_cls: Any, states: np.ndarray, depth: int) -> np.ndarray:
    if depth <= 0 or len(states) == 0:
        return np.zeros(len(states))
    legal = game_cls.batch_legal(states)  # (n, A)
    rows, actions = np.nonzero(legal)
    nxt, terminal, reward = game_cls.batch_step(states[rows], actions)
    child = np.where(terminal, reward.astype(float), 0.0)  # the mover's result: 1 won, 0 draw
    going = ~terminal
    if depth > 1 and going.any():
        child[going] = -_values(game_cls, nxt[going], depth - 1)
    out = np.full(len(states), -np.inf)
    np.maximum.at(out, rows, child)
    return out


def _has_model(game_cls: Any) -> bool:
    return getattr(game_cls, "kind", None) == "game" and hasattr(game_cls, "batch_step")


class OpeningSource:
    """Openings by index, the same for every pairing: ``source[k]`` is a tuple of actions.

    Args:
        game_cls: the game (a lab game model or a PettingZoo adapter).
        plies: random plies per opening (ignored with ``book``).
        seed: draws the random openings (and shuffles the book).
        book: openings read by :func:`read_book`, used in a seeded order, cycled when exhausted.
        depth: plies searched to reject openings already won or lost (0: only finished games).
    """

    def __init__(self, game_cls: Any, *, plies: int, seed: int, book: list[tuple[int, ...]] | None = None,
                 depth: int = LOST_DEPTH) -> None:
        self.game_cls = game_cls
        self.plies = plies
        self.depth = depth if _has_model(game_cls) else 0
        self.book = list(book) if book is not None else None
        if self.book is not None:
            random.Random(seed).shuffle(self.book)
        self._rng = random.Random(seed)
        self._drawn: list[tuple[int, ...]] = []
        self._seen: set[tuple[int, ...]] = set()

    def __getitem__(self, k: int) -> tuple[int, ...]:
        if self.book is not None:
            return self.book[k % len(self.book)]
        while len(self._drawn) <= k:
            self._drawn.append(self._draw())
        return self._drawn[k]

    def playable(self, actions: Sequence[int]) -> bool:
        """Whether the position after ``actions`` is still open (not over, not a forced result)."""
        game = self.game_cls()
        for a in actions:
            game.play(int(a))
            if game.done:
                return False
        return not (self.depth and forced_result(self.game_cls, game.state(), self.depth))

    def _draw(self) -> tuple[int, ...]:
        fallback = None
        for attempt in range(200):
            game = self.game_cls()
            actions: list[int] = []
            while len(actions) < self.plies and not game.done:
                a = self._rng.choice(game.legal_actions())
                game.play(a)
                actions.append(int(a))
            opening = tuple(actions)
            if game.done or (self.depth and forced_result(self.game_cls, game.state(), self.depth)):
                continue
            if opening not in self._seen:
                self._seen.add(opening)
                return opening
            fallback = opening  # every open opening has been used: repeat one
            if attempt > 50:
                break
        if fallback is None:
            raise LabError(f"--opening-plies {self.plies}: found no opening of {self.plies} random plies in "
                           f"{self.game_cls.name} that is not already decided; use fewer plies")
        return fallback


def read_book(path: str | Path, game_cls: Any, source: OpeningSource | None = None) -> tuple[list[tuple[int, ...]], int]:
    """Openings from a text file, one per line as move text (``4453``, ``72 300``; ``-`` the start; ``#`` comments).

    Returns ``(openings, skipped)``: lines whose position is already over or decided are skipped.

    Raises:
        LabError: an unreadable file, or a line that is not a legal move sequence (file and line named).
    """
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise LabError(f"--openings {path}: cannot read it ({getattr(e, 'strerror', None) or e})") from None
    checker = source or OpeningSource(game_cls, plies=0, seed=0)
    openings: list[tuple[int, ...]] = []
    skipped = 0
    for i, line in enumerate(lines, start=1):
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        actions: list[int] = []
        game = game_cls()
        for j, ch in enumerate(split_moves(game_cls, text), start=1):
            try:
                a = game_cls.parse_move(ch)
            except LabError as e:
                raise LabError(f"{path}:{i}: move {j} {ch!r}: {e}") from None
            if game.done:
                raise LabError(f"{path}:{i}: move {j} {ch!r}: the game is already over")
            reason = game.why_illegal(a) if hasattr(game, "why_illegal") else None
            if reason is not None:
                raise LabError(f"{path}:{i}: move {j} {ch!r}: {reason}")
            game.play(a)
            actions.append(a)
        if checker.playable(actions):
            openings.append(tuple(actions))
        else:
            skipped += 1
    if not openings:
        raise LabError(f"--openings {path}: no usable opening (every line is empty, over or already decided)")
    return openings, skipped

