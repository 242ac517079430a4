"""Evaluate a sample set against a data set, and the two references every number is shown beside.

All metrics compare against the *training* split, in the classifier's feature space (``copy_rate`` in pixel
space). References: ``real`` is the held-out split (real images the model never saw: the best a generator can
hope for) and ``gmm`` a 10-component Gaussian mixture fitted to the training pixels (a simple baseline).
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from generators.datasets import ImageDataset
from generators.metrics import scores
from generators.metrics.classifier import FeatureNet, load_classifier

__all__ = ["METRICS", "SampleReport", "evaluate_samples", "gmm_baseline", "reference_reports", "copy_threshold"]

METRICS = ("fd", "kid", "precision", "recall", "coverage", "class_accuracy", "copy_rate")
COPY_FACTOR = 0.4
"""A sample is a near-copy when its nearest training image is closer than this share of the held-out split's
median nearest-training-image distance (real unseen images are never that close; exact copies are at 0)."""


@dataclass(frozen=True)
class SampleReport:
    """The metrics of one sample set (``coverage`` and ``class_accuracy`` are None without labels)."""

    n: int
    fd: float
    kid: float
    precision: float
    recall: float
    coverage: int | None
    classes: int
    copy_rate: float
    class_accuracy: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def copy_threshold(ds: ImageDataset) -> float:
    """``COPY_FACTOR`` × the median distance from held-out images to their nearest training image (pixels)."""
    return COPY_FACTOR * float(np.median(scores.nearest_distances(ds.held_out, ds.train)))


class _Context:
    """What every report on one data set shares: the classifier, training features, the copy threshold."""

    def __init__(self, ds: ImageDataset, net: FeatureNet | None = None) -> None:
        self.ds = ds
        self.net = net or load_classifier(ds)
        feats, _ = self.net.embed(ds.train)
        # one scale for every set: training features get unit mean square per dimension, so KID's cubic kernel
        # and FD read the same whatever the classifier's activation scale
        self.scale = float(np.sqrt((feats**2).mean())) or 1.0
        self.train_feats = feats / self.scale
        self.threshold = copy_threshold(ds)


_CONTEXTS: dict[int, _Context] = {}


def _context(ds: ImageDataset) -> _Context:
    ctx = _CONTEXTS.get(id(ds))
    if ctx is None or ctx.ds is not ds:
        ctx = _CONTEXTS[id(ds)] = _Context(ds)
    return ctx


def evaluate_samples(
    samples: np.ndarray,
    ds: ImageDataset,
    *,
    labels: np.ndarray | None = None,
    seed: int = 0,
) -> SampleReport:
    """Score ``samples`` (N, C, H, W) in [0, 1] against ``ds``'s training split.

    Args:
        samples: the sample set, same shape as the data set's images.
        labels: the classes the samples were asked for (conditional sampling): gives ``class_accuracy``.
        seed: seed of KID's random subsets.
    """
    if samples.shape[1:] != ds.train.shape[1:]:
        raise ValueError(f"samples have shape {samples.shape[1:]}, the data set's images {ds.train.shape[1:]}")
    ctx = _context(ds)
    feats, pred = ctx.net.embed(samples)
    feats = feats / ctx.scale
    precision, recall = scores.precision_recall(ctx.train_feats, feats)
    k = ds.num_classes
    return SampleReport(
        n=len(samples),
        fd=scores.frechet_distance(feats, ctx.train_feats),
        kid=scores.kernel_inception_distance(feats, ctx.train_feats, seed=seed),
        precision=precision,
        recall=recall,
        coverage=scores.coverage(pred, k) if ds.labeled else None,
        classes=k,
        copy_rate=scores.copy_rate(samples, ds.train, ctx.threshold),
        class_accuracy=scores.class_accuracy(pred, labels) if labels is not None and ds.labeled else None,
    )


def gmm_baseline(ds: ImageDataset, n: int, *, seed: int = 0, components: int = 10) -> np.ndarray:
    """``n`` samples of a ``components``-component full-covariance Gaussian mixture fitted to the training pixels."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.mixture import GaussianMixture

    x = ds.train.reshape(len(ds.train), -1).astype(np.float64)
    components = min(components, len(x))  # tiny folders: never more components than images
    gmm = GaussianMixture(components, covariance_type="full", reg_covar=1e-4, random_state=seed, max_iter=200)
    with warnings.catch_warnings():  # duplicate images or slow EM: a baseline either way, not the user's error
        warnings.simplefilter("ignore", ConvergenceWarning)
        gmm.fit(x)
    out, _ = gmm.sample(n)
    rng = np.random.default_rng(seed)
    out = out[rng.permutation(n)]  # sklearn returns the samples grouped by component
    return np.clip(out, 0.0, 1.0).astype(np.float32).reshape(n, *ds.shape)


def reference_reports(ds: ImageDataset, n: int, *, seed: int = 0) -> dict[str, SampleReport]:
    """``real``: the held-out split (its own labels give its class accuracy); ``gmm``: ``n`` mixture samples."""
    real = evaluate_samples(ds.held_out, ds, labels=ds.held_out_labels if ds.labeled else None, seed=seed)
    gmm = evaluate_samples(gmm_baseline(ds, n, seed=seed), ds, seed=seed)
    return {"real": real, "gmm": gmm}
