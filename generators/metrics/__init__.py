"""Offline sample-quality metrics on the features of a small classifier the lab trains itself (nothing downloaded).

Map:
    classifier.py  the feature network: trained on a data set's training split, deterministic, cached
    scores.py      pure functions on arrays: fd, kid, precision/recall, coverage, class_accuracy, copy_rate
    report.py      evaluate a sample set against a data set, with the held-out real split and a GMM as references
"""

from generators.metrics.classifier import FeatureNet, load_classifier
from generators.metrics.report import METRICS, SampleReport, evaluate_samples, gmm_baseline, reference_reports
from generators.metrics.scores import (
    class_accuracy,
    copy_rate,
    coverage,
    frechet_distance,
    kernel_inception_distance,
    nearest_distances,
    precision_recall,
)

__all__ = [
    "FeatureNet",
    "load_classifier",
    "METRICS",
    "SampleReport",
    "evaluate_samples",
    "gmm_baseline",
    "reference_reports",
    "class_accuracy",
    "copy_rate",
    "coverage",
    "frechet_distance",
    "kernel_inception_distance",
    "nearest_distances",
    "precision_recall",
]
