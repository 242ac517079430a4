"""Ratings from game records: maximum-likelihood Bradley-Terry on the Elo scale, with 95% intervals.

The model (the logistic Bradley-Terry model behind BayesElo, Ordo and KataGo's ``elo.py``; BayesElo
also models draws separately, here they are half points): the first player scores

    P(first scores) = 1 / (1 + 10 ** (-(R_first - R_second + A) / 400))

with ``R`` each player's rating and ``A`` the first-move advantage, estimated as its own parameter. A
draw counts as half a win and half a loss. The fit maximizes the log-likelihood by Newton's method
(it is a logistic regression: convex, ~10 steps); intervals are ``rating ± 1.96`` standard errors from
the inverse of the likelihood's curvature (the Hessian, which Newton's method computes anyway),
relative to the anchor (whose rating is fixed and has no interval).

A player who won (or lost) every game has an infinite maximum-likelihood rating. As BayesElo does,
every pair of players that met gets ``prior_draws`` virtual draws (half with each colour), which keeps
ratings finite and moves them by under 1% once a pair has played ~100 games.

Only players connected to the anchor by games are rated; the others are reported in
:attr:`Ratings.unrated`, not given a number that means nothing.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from lab.errors import LabError, unknown_name

__all__ = ["PlayerRating", "Ratings", "fit_ratings", "crosstable", "player_order", "ELO_PER_NAT", "expected_score"]

ELO_PER_NAT = 400.0 / math.log(10.0)
"""Elo points per unit of log-odds."""
_Z95 = 1.959963984540054


def expected_score(elo_difference: float | np.ndarray) -> float | np.ndarray:
    """The logistic Elo curve: expected score at a rating difference.

    >>> round(float(expected_score(0.0)), 3), round(float(expected_score(400.0)), 3)
    (0.5, 0.909)
    """
    return 1.0 / (1.0 + 10.0 ** (-np.asarray(elo_difference, dtype=float) / 400.0))


@dataclass
class PlayerRating:
    """One rated player (``ratings.json`` ``players[]``)."""

    name: str
    spec: str
    rating: float
    ci_low: float
    ci_high: float
    games: int
    wins: int
    draws: int
    losses: int
    score: float
    """Mean score per game (1 win, 0.5 draw)."""


@dataclass
class Ratings:
    """The fitted ratings, best first, and what could not be rated."""

    players: list[PlayerRating]
    first_move_advantage: float
    first_move_advantage_ci: tuple[float, float]
    anchor: dict[str, Any]
    """``{"name": ..., "rating": ...}``."""
    games: int
    unrated: list[dict[str, Any]] = field(default_factory=list)
    """``{"name", "games", "reason"}`` for players with no games linking them to the anchor."""
    prior_draws: float = 1.0

    def to_json(self) -> dict[str, Any]:
        """The ``ratings.json`` document."""
        return {
            "players": [{k: (round(v, 2) if isinstance(v, float) else v) for k, v in asdict(p).items()}
                        for p in self.players],
            "first_move_advantage": round(self.first_move_advantage, 2),
            "first_move_advantage_ci": [round(x, 2) for x in self.first_move_advantage_ci],
            "anchor": self.anchor,
            "games": self.games,
            "unrated": self.unrated,
            "model": "Bradley-Terry (logistic Elo), draws as half points, first-move advantage fitted; "
                     f"95% intervals from the Hessian; {self.prior_draws:g} virtual draw(s) per pair that met",
        }

    def by_name(self) -> dict[str, PlayerRating]:
        return {p.name: p for p in self.players}


def player_order(games: Sequence[dict[str, Any]]) -> list[str]:
    """Player names in order of first appearance."""
    seen: dict[str, None] = {}
    for g in games:
        seen.setdefault(g["first"], None)
        seen.setdefault(g["second"], None)
    return list(seen)


def _components(names: list[str], games: Sequence[dict[str, Any]]) -> dict[str, int]:
    parent = {n: n for n in names}

    def find(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for g in games:
        a, b = find(g["first"]), find(g["second"])
        if a != b:
            parent[a] = b
    roots = {find(n) for n in names}
    ids = {r: i for i, r in enumerate(sorted(roots, key=lambda r: names.index(r)))}
    return {n: ids[find(n)] for n in names}


def _newton(n: np.ndarray, s: np.ndarray, anchor: int, iters: int = 100) -> tuple[np.ndarray, np.ndarray]:
    """Maximize the likelihood; ``n[f, t]`` games and ``s[f, t]`` points of player f moving first against t.

    Returns ``(theta, cov)``: ``theta`` = (k player ratings in log-odds, the anchor's 0; advantage),
    ``cov`` the covariance of the free parameters (every player but the anchor, then the advantage).
    """
    k = n.shape[0]
    free = [i for i in range(k) if i != anchor]
    first, second = np.nonzero(n)  # the (first, second) cells that hold games
    w, pts = n[first, second], s[first, second]

    # The design: x = theta[first] - theta[second] + advantage, over the free parameters only.
    col = np.full(k, -1)
    col[free] = np.arange(len(free))
    m = len(free) + 1
    design = np.zeros((len(w), m))
    rows = np.arange(len(w))
    np.add.at(design, (rows[col[first] >= 0], col[first][col[first] >= 0]), 1.0)
    np.add.at(design, (rows[col[second] >= 0], col[second][col[second] >= 0]), -1.0)
    design[:, -1] = 1.0

    def nll(beta: np.ndarray) -> float:
        x = design @ beta
        # -[pts log p + (w - pts) log(1 - p)], p = sigmoid(x), written stably
        return float(np.sum(w * np.logaddexp(0.0, x) - pts * x))

    beta = np.zeros(m)
    value = nll(beta)
    for _ in range(iters):
        p = 1.0 / (1.0 + np.exp(-(design @ beta)))
        grad = design.T @ (w * p - pts)
        hess = (design * (w * p * (1 - p))[:, None]).T @ design
        if np.max(np.abs(grad)) < 1e-10:
            break
        step = np.linalg.solve(hess, -grad)
        t = 1.0
        while t > 1e-6:  # backtracking: Newton's full step is almost always taken
            trial = beta + t * step
            trial_value = nll(trial)
            if trial_value <= value + 1e-12:
                beta, value = trial, trial_value
                break
            t *= 0.5
        else:
            break
    p = 1.0 / (1.0 + np.exp(-(design @ beta)))
    hess = (design * (w * p * (1 - p))[:, None]).T @ design
    cov = np.linalg.inv(hess)
    theta = np.zeros(k + 1)
    theta[free] = beta[:-1]
    theta[-1] = beta[-1]
    return theta, cov


def fit_ratings(
    games: Sequence[dict[str, Any]],
    *,
    order: Sequence[str] | None = None,
    anchor: tuple[str, float] | None = None,
    specs: dict[str, str] | None = None,
    prior_draws: float = 1.0,
) -> Ratings:
    """Fit ratings to game records (``first``, ``second``, ``result``).

    Args:
        games: the records.
        order: player names in the order to report unrated ones and to pick the default anchor
            (default: first appearance in ``games``).
        anchor: ``(name, rating)``; default: the first player in ``order`` at 0.
        specs: player name -> spec (default: the records' ``first_spec``/``second_spec``).
        prior_draws: virtual draws per pair of players that met (see the module docstring).

    Raises:
        LabError: no games, or an anchor that names no player.
    """
    if not games:
        raise LabError("no games to rate")
    names = list(order) if order is not None else player_order(games)
    for extra in player_order(games):
        if extra not in names:
            names.append(extra)
    if anchor is None:
        played = {g["first"] for g in games} | {g["second"] for g in games}
        anchor = (next(n for n in names if n in played), 0.0)
    elif anchor[0] not in names:
        raise unknown_name("player for --anchor", anchor[0], names)
    specs = dict(specs or {})
    for g in games:
        specs.setdefault(g["first"], g.get("first_spec", g["first"]))
        specs.setdefault(g["second"], g.get("second_spec", g["second"]))

    stats = {name: [0, 0, 0, 0, 0.0] for name in names}  # games, wins, draws, losses, points
    for g in games:
        r = float(g["result"])
        for name, score in ((g["first"], r), (g["second"], 1.0 - r)):
            st = stats[name]
            st[0] += 1
            st[1 + (0 if score == 1 else 1 if score == 0.5 else 2)] += 1
            st[4] += score

    comp = _components(names, games)
    rated = [n for n in names if comp[n] == comp[anchor[0]] and stats[n][0] > 0]
    unrated = []
    for n in names:
        if n in rated:
            continue
        reason = "no games" if stats[n][0] == 0 else f"no games linking them to {anchor[0]} (the anchor)"
        unrated.append({"name": n, "games": stats[n][0], "reason": reason})

    index = {n: i for i, n in enumerate(rated)}
    k = len(rated)
    n = np.zeros((k, k))
    s = np.zeros((k, k))
    for g in games:
        if g["first"] in index and g["second"] in index:
            f, t = index[g["first"]], index[g["second"]]
            n[f, t] += 1
            s[f, t] += float(g["result"])
    met = (n + n.T) > 0
    n_fit = n + met * (prior_draws / 2)  # virtual draws, half with each colour: score 0.5 each
    s_fit = s + met * (prior_draws / 4)
    a = index[anchor[0]]
    if k == 1:
        theta, cov = np.zeros(2), np.zeros((1, 1))
    else:
        theta, cov = _newton(n_fit, s_fit, a)
    se = np.sqrt(np.clip(np.diag(cov), 0.0, None)) * ELO_PER_NAT
    free = [i for i in range(k) if i != a]
    player_se = np.zeros(k)
    player_se[free] = se[:-1] if k > 1 else []
    players = []
    for name in rated:
        i = index[name]
        rating = anchor[1] + theta[i] * ELO_PER_NAT
        games_n, wins, draws, losses, points = stats[name]
        half = _Z95 * player_se[i]
        players.append(PlayerRating(name, specs.get(name, name), float(rating), float(rating - half),
                                    float(rating + half), games_n, wins, draws, losses, points / games_n))
    players.sort(key=lambda p: -p.rating)
    adv = float(theta[-1] * ELO_PER_NAT)
    adv_half = float(_Z95 * se[-1]) if k > 1 else float("nan")
    return Ratings(players, adv, (adv - adv_half, adv + adv_half), {"name": anchor[0], "rating": anchor[1]},
                   len(games), unrated, prior_draws)


def crosstable(games: Sequence[dict[str, Any]], order: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """Score per ordered pair (player against opponent), overall and per colour (``crosstable.csv`` rows)."""
    names = list(order) if order is not None else player_order(games)
    cells: dict[tuple[str, str], list[float]] = {}
    for g in games:
        r = float(g["result"])
        for me, other, score, first in ((g["first"], g["second"], r, True), (g["second"], g["first"], 1 - r, False)):
            c = cells.setdefault((me, other), [0, 0.0, 0, 0.0, 0, 0.0])
            c[0] += 1
            c[1] += score
            c[2 if first else 4] += 1
            c[3 if first else 5] += score
    rows = []
    rank = {n: i for i, n in enumerate(names)}
    for (me, other), c in sorted(cells.items(), key=lambda kv: (rank.get(kv[0][0], 1e9), rank.get(kv[0][1], 1e9))):
        rows.append({
            "player": me, "opponent": other, "games": c[0], "score": c[1],
            "score_pct": round(100 * c[1] / c[0], 1),
            "as_first_games": c[2], "as_first_score": c[3], "as_second_games": c[4], "as_second_score": c[5],
        })
    return rows
