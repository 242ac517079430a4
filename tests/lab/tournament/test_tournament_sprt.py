"""The SPRT: parsing, the LLR's direction, and error rates within alpha/beta over simulated matches."""

from __future__ import annotations

import numpy as np
import pytest

from lab.errors import LabError
from lab.tournament.ratings import expected_score
from lab.tournament.sprt import SprtSpec, llr, parse_sprt, pentanomial, sprt_status


@pytest.mark.parametrize(("text", "match"), [
    ("elo0=50,elo1=0", r"bounds out of order: elo0 \(50\) must be below elo1 \(0\)"),
    ("elo0=5,elo1=5", r"bounds out of order"),
    ("elo1=5", r"missing elo0"),
    ("elo0=0,elo1=5,alhpa=0.1", r"unknown key 'alhpa'; did you mean 'alpha'\?"),
    ("elo0=0,elo1=x", r"elo1: expected a number, got 'x'"),
    ("elo0=0,elo1=5,beta=0.7", r"beta: expected a probability between 0 and 0.5"),
    ("0,50", r"expected KEY=VALUE parts"),
])
def test_bad_sprt_specs(text, match):
    with pytest.raises(LabError, match=match):
        parse_sprt(text)


def test_parse_and_bounds():
    spec = parse_sprt("elo0=-5, elo1=10, alpha=0.1, beta=0.2")
    assert spec == SprtSpec(-5, 10, 0.1, 0.2)
    assert spec.bounds == pytest.approx((np.log(0.2 / 0.9), np.log(0.8 / 0.1)))


def test_llr_points_the_right_way():
    assert pentanomial([0, 0.5, 2, 2, 1.5]).tolist() == [1, 1, 0, 1, 2]
    strong = pentanomial([2] * 30 + [1] * 10)
    weak = pentanomial([0] * 30 + [1] * 10)
    assert llr(strong, 0, 50) > 0 > llr(weak, 0, 50)
    even = pentanomial([1] * 40 + [2] * 5 + [0] * 5)
    assert llr(even, -25, 25) == pytest.approx(0, abs=1e-6)  # halfway between the hypotheses


def test_a_decisive_match_is_stopped_with_h1():
    assert sprt_status(SprtSpec(0, 50), [2] * 20).decision is None  # 2.67 < 2.94: not yet
    status = sprt_status(SprtSpec(0, 50), [2] * 23)
    assert status.decision == "H1" and status.pairs == 23 and status.llr == pytest.approx(3.073, abs=1e-3)
    assert "H1 accepted" in status.describe()
    assert sprt_status(SprtSpec(0, 50), [1, 1]).decision is None


def _run(true_elo, spec, sims, rng, draw=0.3, max_pairs=3000):
    """Many simulated SPRTs in lockstep; each game W/D/L with the expected score of ``true_elo``."""
    lower, upper = spec.bounds
    counts = np.zeros((sims, 5))
    decided = np.full(sims, "", dtype=object)
    live = np.ones(sims, bool)
    p = float(expected_score(true_elo))
    d = draw * 2 * min(p, 1 - p)
    for _ in range(max_pairs):
        u = rng.random((sims, 2))
        points = np.where(u < p - d / 2, 1.0, np.where(u < p + d / 2, 0.5, 0.0)).sum(1)
        idx = np.flatnonzero(live)
        counts[idx, np.rint(points[idx] * 2).astype(int)] += 1
        value = llr(counts[idx], spec.elo0, spec.elo1)
        decided[idx[value >= upper]] = "H1"
        decided[idx[value <= lower]] = "H0"
        live[idx[(value >= upper) | (value <= lower)]] = False
        if not live.any():
            break
    return decided


@pytest.mark.parametrize(("true_elo", "wrong", "rate"), [(0.0, "H1", "alpha"), (60.0, "H0", "beta")])
def test_error_rates_are_within_alpha_and_beta(true_elo, wrong, rate):
    spec = SprtSpec(0, 60, alpha=0.05, beta=0.05)
    sims = 300
    decided = _run(true_elo, spec, sims, np.random.default_rng(7))
    assert (decided != "").all()  # every test stopped
    allowed = getattr(spec, rate) + 3 * np.sqrt(0.05 * 0.95 / sims)  # nominal + 3 standard errors
    assert (decided == wrong).mean() <= allowed
    right = "H0" if wrong == "H1" else "H1"
    assert (decided == right).mean() >= 1 - allowed
