"""Level metrics: how much a set of mazes looks like the procedural ones (PCGRL-style connectivity and path length).

* ``perfect_rate``: border closed, every room open, the open cells a spanning tree (connected, acyclic);
* ``solvable_rate``: start and goal open and connected;
* ``duplicate_rate``: share of levels equal to an earlier one in the same set;
* ``novelty``: share not in the training levels;
* ``path_ks``: two-sample Kolmogorov-Smirnov statistic between the start-to-goal path lengths of the
  solvable levels and those of the reference (held-out procedural) levels; 1.0 when none is solvable.

>>> import numpy as np
>>> ks_statistic(np.array([1, 2, 3]), np.array([1, 2, 3])), ks_statistic(np.array([1, 1]), np.array([5, 6]))
(0.0, 1.0)
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from envs.mazes.maze import is_perfect, is_solvable, level_hash, path_length, procedural_maze

__all__ = ["ks_statistic", "level_metrics", "random_levels", "level_report"]


def ks_statistic(a: np.ndarray, b: np.ndarray) -> float:
    """``max |F_a(x) - F_b(x)|`` over all x: the two-sample Kolmogorov-Smirnov statistic (1.0 if either is empty)."""
    a, b = np.sort(np.asarray(a, dtype=float)), np.sort(np.asarray(b, dtype=float))
    if len(a) == 0 or len(b) == 0:
        return 1.0
    xs = np.concatenate([a, b])
    fa = np.searchsorted(a, xs, side="right") / len(a)
    fb = np.searchsorted(b, xs, side="right") / len(b)
    return float(np.max(np.abs(fa - fb)))


def level_metrics(levels: np.ndarray, *, train_hashes: Iterable[str], reference: np.ndarray) -> dict[str, float]:
    """The five metrics of ``levels`` (``(N, H, W)``, unrepaired) against training hashes and reference levels."""
    levels = np.asarray(levels)
    n = len(levels)
    if n == 0:
        raise ValueError("level_metrics: expected at least one level, got 0")
    train = set(train_hashes)
    hashes = [level_hash(g) for g in levels]
    lengths = np.array([path_length(g) for g in levels])
    solvable = np.array([is_solvable(g) for g in levels])
    ref_lengths = np.array([path_length(g) for g in reference])
    return {
        "perfect_rate": float(np.mean([is_perfect(g) for g in levels])),
        "solvable_rate": float(solvable.mean()),
        "duplicate_rate": 1.0 - len(set(hashes)) / n,
        "novelty": float(np.mean([h not in train for h in hashes])),
        "path_ks": ks_statistic(lengths[solvable], ref_lengths[ref_lengths >= 0]),
        "mean_path_length": float(lengths[solvable].mean()) if solvable.any() else float("nan"),
        "levels": n,
    }


def random_levels(n: int, shape: tuple[int, int], wall_fraction: float, seed: int) -> np.ndarray:
    """The per-cell random baseline: each cell a wall with probability ``wall_fraction``, independently."""
    rng = np.random.default_rng(seed)
    return (rng.random((n, *shape)) < wall_fraction).astype(np.int8)


def level_report(
    levels: np.ndarray, *, train: np.ndarray, reference: np.ndarray, seed: int = 0
) -> dict[str, dict[str, float]]:
    """Metrics of ``levels`` with two baselines beside them, each of the same count:

    ``random`` (per-cell walls at the training split's wall fraction) and ``procedural`` (fresh
    recursive-backtracker mazes, neither training nor reference levels, barring a collision).
    """
    levels = np.asarray(levels)
    n, shape = len(levels), levels.shape[1:]
    hashes = {level_hash(g) for g in train}
    procedural = np.stack([procedural_maze(shape, seed=2**41 + seed * n + i) for i in range(n)])
    rand = random_levels(n, shape, float(np.mean(train)), seed)
    return {
        "samples": level_metrics(levels, train_hashes=hashes, reference=reference),
        "random": level_metrics(rand, train_hashes=hashes, reference=reference),
        "procedural": level_metrics(procedural, train_hashes=hashes, reference=reference),
    }
