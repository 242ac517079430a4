"""Known answers for the sample-quality metrics: real held-out images beat each kind of bad sample set."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from generators.metrics import (
    class_accuracy,
    copy_rate,
    coverage,
    evaluate_samples,
    frechet_distance,
    gmm_baseline,
    kernel_inception_distance,
    load_classifier,
    precision_recall,
    reference_reports,
)
from generators.metrics.classifier import classifier_path


def test_frechet_distance_of_gaussians_has_the_closed_form():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(20000, 3))
    b = rng.normal(size=(20000, 3)) * 2.0 + np.array([1.0, 0.0, 0.0])
    # |mu|^2 + sum (sigma_a - sigma_b)^2 = 1 + 3 * (1 - 2)^2
    assert frechet_distance(a, b) == pytest.approx(4.0, rel=0.03)
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-9)


def test_kid_is_near_zero_for_one_distribution_and_positive_for_two():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(600, 8)), rng.normal(size=(600, 8))
    assert abs(kernel_inception_distance(a, b)) < 0.05
    assert kernel_inception_distance(a, b + 1.0) > 1.0


def test_precision_recall_known_answers():
    rng = np.random.default_rng(2)
    real = rng.normal(size=(300, 2))
    assert precision_recall(real, real + 100.0) == (0.0, 0.0)  # disjoint
    p, r = precision_recall(real, real[real[:, 0] < 0])  # one half-plane: all precise, about half covered
    assert p == 1.0 and 0.45 < r < 0.65


def test_coverage_counts_classes_with_a_fair_share():
    assert coverage(np.repeat(np.arange(10), 10), 10) == 10
    assert coverage(np.zeros(100, int), 10) == 1
    assert coverage(np.array([0] * 990 + [1] * 10), 10) == 1  # 10 stray samples in 1000 is not a class
    assert class_accuracy(np.array([1, 2, 3, 3]), np.array([1, 2, 3, 4])) == 0.75


def test_copy_rate_counts_near_copies():
    train = np.eye(4, dtype=np.float32).reshape(4, 1, 2, 2)
    samples = np.concatenate([train[:2] + 0.01, np.full((2, 1, 2, 2), 0.5, np.float32)])
    assert copy_rate(samples, train, threshold=0.1) == 0.5


def test_classifier_is_accurate_deterministic_and_cached(digits8, tmp_path, monkeypatch):
    net = load_classifier(digits8)
    assert net.accuracy > 0.9
    assert classifier_path(digits8).is_file()
    monkeypatch.setenv("LAB_DATA_DIR", str(tmp_path))  # an empty cache: trained again, same weights
    again = load_classifier(digits8, cache=False)
    for a, b in zip(net.state_dict().values(), again.state_dict().values(), strict=True):
        assert torch.equal(a, b)


@pytest.fixture(scope="module")
def references(digits8):
    return reference_reports(digits8, 500)


def test_held_out_real_beats_noised_and_blurred_in_fd(digits8, references):
    real = references["real"]
    rng = np.random.default_rng(0)
    ho = digits8.held_out
    noised = np.clip(ho + rng.normal(0, 0.3, ho.shape), 0, 1).astype(np.float32)
    blurred = F.avg_pool2d(torch.from_numpy(ho), 3, 1, 1, count_include_pad=False).numpy()
    for bad in (noised, blurred):
        rep = evaluate_samples(bad, digits8)
        assert rep.fd > 3 * real.fd
        assert rep.kid > real.kid
    assert real.coverage == 10 and real.copy_rate == 0.0 and real.class_accuracy > 0.9


def test_single_class_shows_in_coverage_and_recall(digits8, references):
    real = references["real"]
    one = digits8.train[digits8.train_labels == 3]
    rep = evaluate_samples(one, digits8)
    assert rep.coverage == 1 and real.coverage == 10
    assert rep.recall < 0.3 < real.recall


def test_copies_show_in_copy_rate_not_in_fd(digits8, references):
    real = references["real"]
    rng = np.random.default_rng(0)
    copies = digits8.train[rng.choice(len(digits8.train), len(digits8.held_out), replace=False)]
    nearly = np.clip(copies + rng.normal(0, 0.02, copies.shape), 0, 1).astype(np.float32)
    for memorized in (copies, nearly):
        rep = evaluate_samples(memorized, digits8)
        assert rep.copy_rate > 0.95 and real.copy_rate < 0.01
        assert rep.fd < 3 * real.fd  # FD alone does not see memorization


def test_gmm_baseline_is_deterministic_and_worse_than_real(digits8, references):
    a, b = gmm_baseline(digits8, 50, seed=0), gmm_baseline(digits8, 50, seed=0)
    assert np.array_equal(a, b) and a.shape == (50, 1, 8, 8) and a.min() >= 0 and a.max() <= 1
    assert references["gmm"].fd > references["real"].fd
