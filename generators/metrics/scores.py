"""Sample-quality scores as pure functions of feature (or pixel) arrays.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> a, b = rng.normal(size=(500, 4)), rng.normal(size=(500, 4))
>>> round(frechet_distance(a, a), 6)
0.0
>>> frechet_distance(a, b + 3.0) > 30 > frechet_distance(a, b)
True
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "frechet_distance",
    "kernel_inception_distance",
    "precision_recall",
    "coverage",
    "class_accuracy",
    "nearest_distances",
    "copy_rate",
]


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets (Heusel et al. 2017, "GANs trained by a two
    time-scale update rule"): ``|mu_a - mu_b|^2 + tr(S_a + S_b - 2 (S_a S_b)^(1/2))``.

    Args:
        a, b: (N, D) and (M, D) features.
    """
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if len(a) < 2 or len(b) < 2:
        return float("nan")  # a covariance needs two points
    mu_a, mu_b = a.mean(0), b.mean(0)
    s_a, s_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    # tr((S_a S_b)^(1/2)) = sum of sqrt(eigenvalues of S_a^(1/2) S_b S_a^(1/2)), which is symmetric PSD
    w, v = np.linalg.eigh(s_a)
    root_a = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    inner = np.linalg.eigvalsh(root_a @ s_b @ root_a)
    tr_root = np.sqrt(np.clip(inner, 0, None)).sum()
    value = float(((mu_a - mu_b) ** 2).sum() + np.trace(s_a) + np.trace(s_b) - 2.0 * tr_root)
    return max(value, 0.0)


def kernel_inception_distance(a: np.ndarray, b: np.ndarray, *, subsets: int = 10, subset_size: int = 1000,
                              seed: int = 0) -> float:
    """Kernel distance (Bińkowski et al. 2018, "Demystifying MMD GANs"): the unbiased MMD² with the cubic polynomial
    kernel ``k(x, y) = (x·y / D + 1)^3``, averaged over ``subsets`` random subsets (seeded) of both sets."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    d = a.shape[1]
    m = min(subset_size, len(a), len(b))
    if m < 2:
        return float("nan")
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(subsets):
        x = a[rng.choice(len(a), m, replace=False)]
        y = b[rng.choice(len(b), m, replace=False)]
        kxx = (x @ x.T / d + 1) ** 3
        kyy = (y @ y.T / d + 1) ** 3
        kxy = (x @ y.T / d + 1) ** 3
        off = m * (m - 1)
        values.append((kxx.sum() - np.trace(kxx)) / off + (kyy.sum() - np.trace(kyy)) / off - 2 * kxy.mean())
    return float(np.mean(values))


def _pairwise(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(N, M) Euclidean distances, in float64, row blocks to bound memory."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    bb = (b**2).sum(1)
    out = np.empty((len(a), len(b)))
    for i in range(0, len(a), 1024):
        x = a[i : i + 1024]
        out[i : i + 1024] = np.sqrt(np.clip((x**2).sum(1)[:, None] + bb[None] - 2 * x @ b.T, 0, None))
    return out


def _kth_radius(x: np.ndarray, k: int) -> np.ndarray:
    d = _pairwise(x, x)
    return np.sort(d, axis=1)[:, min(k, len(x) - 1)]  # column 0 is the point itself


def precision_recall(real: np.ndarray, fake: np.ndarray, *, k: int = 3) -> tuple[float, float]:
    """Improved precision and recall (Kynkäänniemi et al. 2019): each set's manifold is the union of balls reaching
    every point's k-th nearest neighbour; precision = share of fakes inside the real manifold, recall = share of
    reals inside the fake manifold."""
    r_real, r_fake = _kth_radius(real, k), _kth_radius(fake, k)
    d = _pairwise(fake, real)  # (F, R)
    precision = float((d <= r_real[None]).any(1).mean())
    recall = float((d.T <= r_fake[None]).any(1).mean())
    return precision, recall


def coverage(pred: np.ndarray, num_classes: int, *, min_share: float = 0.25) -> int:
    """Classes present among the samples: those the classifier assigns at least ``min_share`` of a uniform
    share (``min_share * N / num_classes`` samples, at least 1)."""
    counts = np.bincount(np.asarray(pred, np.int64), minlength=num_classes)[:num_classes]
    need = max(1.0, min_share * len(pred) / num_classes)
    return int((counts >= need).sum())


def class_accuracy(pred: np.ndarray, target: np.ndarray) -> float:
    """Share of conditional samples that the classifier puts in the class they were asked for."""
    pred, target = np.asarray(pred), np.asarray(target)
    return float((pred == target).mean()) if len(target) else float("nan")


def nearest_distances(x: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """Per row of ``x``: the Euclidean distance to its nearest row of ``ref`` (flattened pixels or features)."""
    x = np.asarray(x, np.float64).reshape(len(x), -1)
    ref = np.asarray(ref, np.float64).reshape(len(ref), -1)
    return _pairwise(x, ref).min(1)


def copy_rate(samples: np.ndarray, train: np.ndarray, threshold: float) -> float:
    """Share of samples whose nearest training image (pixel space) is closer than ``threshold``: near-copies.

    See ``report.copy_threshold`` for how the threshold follows from the held-out real split.
    """
    return float((nearest_distances(samples, train) < threshold).mean())
