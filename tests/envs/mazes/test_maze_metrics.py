"""Level metrics on sets with known answers, and the baselines beside them."""

from __future__ import annotations

import numpy as np
import pytest

from envs.mazes.levels import held_out_levels
from envs.mazes.maze import level_hash, procedural_maze
from envs.mazes.metrics import ks_statistic, level_metrics, level_report, random_levels

TINY = np.array([[1, 1, 1, 1, 1], [1, 0, 0, 0, 1], [1, 1, 1, 0, 1], [1, 0, 0, 0, 1], [1, 1, 1, 1, 1]], dtype=np.int8)


def test_ks_statistic_known_answers():
    assert ks_statistic(np.array([1, 2, 3, 4]), np.array([1, 2, 3, 4])) == 0.0
    assert ks_statistic(np.array([1, 2]), np.array([3, 4])) == 1.0
    # F_a jumps to 0.5 at 1 and 1.0 at 3; F_b to 0.5 at 2 and 1.0 at 3: the largest gap is 0.5
    assert ks_statistic(np.array([1, 3]), np.array([2, 3])) == 0.5
    assert ks_statistic(np.array([]), np.array([1])) == 1.0


def test_level_metrics_known_answers():
    cycle = TINY.copy()
    cycle[2, 1] = 0  # solvable, not perfect
    cut = TINY.copy()
    cut[2, 3] = 1  # neither
    levels = np.stack([TINY, TINY, cycle, cut])
    m = level_metrics(levels, train_hashes=[level_hash(TINY)], reference=np.stack([TINY]))
    assert m["perfect_rate"] == 0.5
    assert m["solvable_rate"] == 0.75
    assert m["duplicate_rate"] == 0.25  # the second TINY
    assert m["novelty"] == 0.5  # cycle and cut are not training levels
    assert m["path_ks"] == 0.0  # every solvable level has path length 4, as the reference
    assert m["mean_path_length"] == 4.0 and m["levels"] == 4
    with pytest.raises(ValueError, match="expected at least one level, got 0"):
        level_metrics(levels[:0], train_hashes=[], reference=levels)


def test_report_puts_procedural_and_random_baselines_beside_the_samples():
    size = 9
    train = np.stack([procedural_maze(size, seed=s) for s in range(100)])
    reference = held_out_levels(size)[:200]
    samples = train[:50]  # memorized training levels: perfect, but no novelty
    report = level_report(samples, train=train, reference=reference, seed=0)
    assert set(report) == {"samples", "random", "procedural"}
    s, r, p = report["samples"], report["random"], report["procedural"]
    assert s["perfect_rate"] == 1.0 and s["novelty"] == 0.0 and s["duplicate_rate"] == 0.0
    assert p["perfect_rate"] == 1.0 and p["solvable_rate"] == 1.0 and p["novelty"] == 1.0
    assert p["path_ks"] < 0.3, "fresh procedural mazes have the reference's path lengths"
    assert r["perfect_rate"] == 0.0 and r["solvable_rate"] < 0.2
    assert r["levels"] == s["levels"] == p["levels"] == 50


def test_random_levels_have_the_given_wall_fraction_and_seed():
    a = random_levels(200, (13, 13), 0.6, seed=1)
    assert a.shape == (200, 13, 13) and a.dtype == np.int8
    assert abs(a.mean() - 0.6) < 0.01
    assert np.array_equal(a, random_levels(200, (13, 13), 0.6, seed=1))
