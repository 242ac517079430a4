"""The rating fit: known answers, recovery of known ratings over repeated simulations, anchors, unrated players."""

from __future__ import annotations

import numpy as np
import pytest

from lab.errors import LabError
from lab.tournament.ratings import crosstable, expected_score, fit_ratings


def _games(pairs):
    """[(first, second, result, count)] -> records."""
    return [{"first": f, "second": s, "result": r} for f, s, r, n in pairs for _ in range(n)]


def simulate(rng, true, advantage, per_pair, draw=0.2):
    """Balanced round robin between players of known Elo; draws keep each game's expected score."""
    names, games = list(true), []
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            for g in range(per_pair):
                first, second = (a, b) if g % 2 == 0 else (b, a)
                p = float(expected_score(true[first] - true[second] + advantage))
                d = draw * 2 * min(p, 1 - p)
                u = rng.random()
                games.append({"first": first, "second": second,
                              "result": 1.0 if u < p - d / 2 else 0.5 if u < p + d / 2 else 0.0})
    return games


def test_even_scores_give_equal_ratings_and_no_advantage():
    r = fit_ratings(_games([("a", "b", 1, 5), ("a", "b", 0, 5), ("b", "a", 1, 5), ("b", "a", 0, 5)]))
    by = r.by_name()
    assert by["a"].rating == 0 and by["b"].rating == pytest.approx(0, abs=1e-6)
    assert r.first_move_advantage == pytest.approx(0, abs=1e-6)
    assert by["b"].ci_low < 0 < by["b"].ci_high
    assert (by["a"].games, by["a"].wins, by["a"].losses, by["a"].score) == (20, 10, 10, 0.5)


def test_known_answer_with_draws_as_half_points():
    # 'b' scores 3/4 against 'a' with either colour: 400 log10(3) = 190.8 Elo, before the prior's pull.
    games = _games([("a", "b", 0, 40), ("a", "b", 0.5, 10), ("a", "b", 1, 10),
                    ("b", "a", 1, 40), ("b", "a", 0.5, 10), ("b", "a", 0, 10)])
    exact = fit_ratings(games, prior_draws=0.0).by_name()["b"].rating
    assert exact == pytest.approx(400 * np.log10(3), abs=1e-6)
    assert 185 < fit_ratings(games).by_name()["b"].rating < exact  # one virtual draw pulls it in a little


def test_first_move_advantage_is_its_own_parameter():
    # Whoever moves first scores 2/3: equal players, advantage 400 log10(2) = 120.4 Elo.
    games = _games([("a", "b", 1, 20), ("a", "b", 0, 10), ("b", "a", 1, 20), ("b", "a", 0, 10)])
    r = fit_ratings(games, prior_draws=0.0)
    assert r.first_move_advantage == pytest.approx(400 * np.log10(2), abs=1e-6)
    assert r.by_name()["b"].rating == pytest.approx(0, abs=1e-6)


def test_true_ratings_lie_in_their_intervals_in_at_least_90_percent_of_simulations():
    true = {"a": 0.0, "b": 150.0, "c": -100.0, "d": 300.0}
    advantage, repeats = 50.0, 200
    rng = np.random.default_rng(0)
    covered = {n: 0 for n in true}
    adv_covered, advs = 0, []
    for _ in range(repeats):
        r = fit_ratings(simulate(rng, true, advantage, per_pair=60), order=list(true))
        for p in r.players:
            covered[p.name] += p.ci_low <= true[p.name] <= p.ci_high or p.name == "a"
        lo, hi = r.first_move_advantage_ci
        adv_covered += lo <= advantage <= hi
        advs.append(r.first_move_advantage)
    for name, hits in covered.items():
        assert hits / repeats >= 0.90, (name, hits / repeats)
    assert adv_covered / repeats >= 0.90
    assert np.mean(advs) == pytest.approx(advantage, abs=8)


def test_anchor_shifts_every_rating():
    games = simulate(np.random.default_rng(1), {"x": 0.0, "y": 200.0, "z": 400.0}, 0.0, 20)
    plain = fit_ratings(games).by_name()
    anchored = fit_ratings(games, anchor=("y", 1500.0)).by_name()
    assert anchored["y"].rating == 1500 and anchored["y"].ci_low == anchored["y"].ci_high == 1500
    for n in "xz":
        assert anchored[n].rating - 1500 == pytest.approx(plain[n].rating - plain["y"].rating, abs=1e-6)
    with pytest.raises(LabError, match=r"unknown player for --anchor 'q'"):
        fit_ratings(games, anchor=("q", 0.0))


def test_perfect_scores_stay_finite():
    r = fit_ratings(_games([("a", "b", 0, 10), ("b", "a", 1, 10)]))
    b = r.by_name()["b"]
    assert 200 < b.rating < 1500 and np.isfinite(b.ci_high)


def test_players_with_no_games_against_the_rest_are_reported_not_rated():
    games = _games([("a", "b", 1, 4), ("b", "a", 1, 4), ("c", "d", 1, 4), ("d", "c", 0, 4)])
    r = fit_ratings(games)
    assert [p.name for p in r.players] == ["a", "b"] or {p.name for p in r.players} == {"a", "b"}
    assert [(u["name"], u["reason"]) for u in r.unrated] == [
        ("c", "no games linking them to a (the anchor)"), ("d", "no games linking them to a (the anchor)")]
    assert fit_ratings(games, anchor=("c", 0)).unrated[0]["name"] == "a"


def test_crosstable_counts_each_colour():
    rows = crosstable(_games([("a", "b", 1, 2), ("b", "a", 0.5, 1)]))
    a_b = next(r for r in rows if r["player"] == "a")
    assert a_b == {"player": "a", "opponent": "b", "games": 3, "score": 2.5, "score_pct": 83.3, "as_first_games": 2,
                   "as_first_score": 2.0, "as_second_games": 1, "as_second_score": 0.5}
