"""``ratings.png`` (ratings with their 95% intervals) and ``matrix.png`` (pairwise score heat map)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from lab import atomic
from lab.tournament.ratings import Ratings
from lab.tournament.report import elo

__all__ = ["ratings_plot", "matrix_plot"]


def _save(fig: Any, out: str | os.PathLike) -> Path:
    import matplotlib.pyplot as plt

    out = Path(out)
    fig.tight_layout()
    with atomic.atomic_write(out, "wb") as f:
        fig.savefig(f, format="png")
    plt.close(fig)
    return out


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def ratings_plot(ratings: Ratings, out: str | os.PathLike, title: str | None = None) -> Path:
    """Horizontal bars: each player's rating (best at the top) with its 95% interval."""
    plt = _pyplot()
    players = list(reversed(ratings.players))
    fig, ax = plt.subplots(figsize=(6.4, 0.9 + 0.45 * len(players)), dpi=100)
    ys = range(len(players))
    ratings_ = [p.rating for p in players]
    lows = [p.rating - p.ci_low for p in players]
    highs = [p.ci_high - p.rating for p in players]
    ax.errorbar(ratings_, list(ys), xerr=[lows, highs], fmt="o", color="C0", ecolor="C0", capsize=4, markersize=6)
    for y, p in zip(ys, players):
        label = elo(p.rating) if p.ci_high > p.ci_low else f"{elo(p.rating)} (anchor)"
        ax.annotate(label, (p.rating, y), textcoords="offset points", xytext=(0, 7), ha="center", fontsize=8)
    ax.set_yticks(list(ys), [f"{p.name} ({p.spec})" if p.spec != p.name else p.name for p in players], fontsize=9)
    ax.set_xlabel(f"Elo (95% interval; anchor {ratings.anchor['name']} = {ratings.anchor['rating']:g})")
    ax.set_ylim(-0.6, len(players) - 0.4)
    ax.grid(axis="x", alpha=0.3)
    adv = ratings.first_move_advantage
    ax.set_title(title or f"{ratings.games} games; first-move advantage {elo(adv)} Elo", fontsize=10)
    return _save(fig, out)


def matrix_plot(rows: list[dict[str, Any]], names: list[str], out: str | os.PathLike) -> Path:
    """Heat map of each player's score against each opponent (rows: player, columns: opponent)."""
    import numpy as np

    plt = _pyplot()
    k = len(names)
    index = {n: i for i, n in enumerate(names)}
    grid = np.full((k, k), np.nan)
    games = np.zeros((k, k), dtype=int)
    for r in rows:
        if r["player"] in index and r["opponent"] in index:
            i, j = index[r["player"]], index[r["opponent"]]
            grid[i, j] = r["score"] / r["games"]
            games[i, j] = r["games"]
    fig, ax = plt.subplots(figsize=(1.6 + 0.9 * k, 1.2 + 0.8 * k), dpi=100)
    image = ax.imshow(grid, cmap="RdYlGn", vmin=0, vmax=1)
    for i in range(k):
        for j in range(k):
            if games[i, j]:
                ax.text(j, i, f"{grid[i, j]:.2f}\n({games[i, j]})", ha="center", va="center", fontsize=8)
    ax.set_xticks(range(k), names, rotation=30, ha="right", fontsize=9)
    ax.set_yticks(range(k), names, fontsize=9)
    ax.set_xlabel("opponent")
    ax.set_ylabel("player")
    ax.set_title("score per game (games)", fontsize=10)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    return _save(fig, out)
