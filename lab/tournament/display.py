"""The live tournament display (rich): games done / total, games per second, ETA, standings with intervals.

On a terminal it redraws a table on stderr; elsewhere (CI, pipes) it prints one line per tenth of the
games (every 20 games in an open-ended SPRT run), so logs stay readable.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any

from lab.training.progress import format_duration
from lab.tournament.ratings import Ratings

__all__ = ["TournamentDisplay"]


class TournamentDisplay:
    """Shows a tournament's progress; call :meth:`update` as games arrive.

    Args:
        title: e.g. ``connect_four: 3 players, round robin``.
        total: games planned (None: open-ended, an SPRT run).
        done: games already in the folder when this session started.
        standings: returns the current :class:`Ratings` (or None before any game).
        live: redraw in place (default: when stderr is a terminal).
    """

    def __init__(self, title: str, total: int | None, done: int, standings: Callable[[], Ratings | None],
                 live: bool | None = None, enabled: bool = True) -> None:
        from rich.console import Console

        self.console = Console(stderr=True)
        self.enabled = enabled
        self.live = (self.console.is_terminal if live is None else live) and enabled
        self.title, self.total, self.done0, self.done = title, total, done, done
        self.standings = standings
        self.note = ""
        self.t0 = time.perf_counter()
        self._ratings: Ratings | None = None
        self._last_fit = 0.0
        self._next_line = 0.1
        self._last_line = done
        self._live: Any = None

    def start(self) -> None:
        if self.enabled:
            self.console.print(self.title, highlight=False, soft_wrap=True)
        if self.live:
            from rich.live import Live

            self._live = Live(get_renderable=self.render, console=self.console, refresh_per_second=2, transient=True)
            self._live.start()

    def rate(self) -> float:
        elapsed = time.perf_counter() - self.t0
        return (self.done - self.done0) / elapsed if elapsed > 0 else 0.0

    def eta(self) -> float:
        rate = self.rate()
        if self.total is None or rate <= 0:
            return float("nan")
        return (self.total - self.done) / rate

    def line(self) -> str:
        total = f"/{self.total}" if self.total is not None else ""
        note = f"  {self.note}" if self.note else ""
        return f"games {self.done}{total}  {self.rate():.2f} games/s  ETA {format_duration(self.eta())}{note}"

    def _fit(self, force: bool = False) -> Ratings | None:
        now = time.perf_counter()
        if force or now - self._last_fit > 1.0:
            self._last_fit = now
            self._ratings = self.standings()
        return self._ratings

    def render(self) -> Any:
        from rich.console import Group

        from lab.tournament.report import ratings_table

        ratings = self._fit()
        parts: list[Any] = [self.line()]
        if ratings is not None and ratings.players:
            parts.append(ratings_table(ratings))
        return Group(*parts)

    def update(self, done: int, note: str = "") -> None:
        self.done, self.note = done, note or self.note
        if self._live is not None or not self.enabled:
            return
        if self.total:  # a line per tenth of the games
            due = self.done / self.total >= self._next_line
            if due:
                self._next_line = (int(self.done / self.total * 10) + 1) / 10
        else:  # open-ended (SPRT): a line per 20 games
            due = self.done - self._last_line >= 20
        if due:
            self._last_line = self.done
            ratings = self._fit(force=True)
            ranks = ""
            if ratings is not None:
                from lab.tournament.report import elo

                ranks = "  " + ", ".join(f"{p.name} {elo(p.rating)}" + (
                    f" ({elo(p.ci_low)}..{elo(p.ci_high)})" if p.ci_high > p.ci_low else "") for p in ratings.players)
            self.console.print(self.line() + ranks, highlight=False, markup=False, soft_wrap=True)

    def message(self, text: str) -> None:
        if self.enabled:
            self.console.print(text, highlight=False, markup=False, soft_wrap=True)

    def stop(self) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None
        sys.stderr.flush()
