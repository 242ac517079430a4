"""Sequential probability ratio test on game pairs: stop as soon as one Elo hypothesis is accepted.

Fishtest's test (Van den Bergh, "Comments on normalized Elo" and ``LLRcalc.py``): every opening is
played twice with colours swapped, and the pair's score (0, 0.5, 1, 1.5 or 2 points) is one
observation of a five-outcome (pentanomial) distribution, which cancels most of the colour and
opening noise. H0 says the expected score is ``expected_score(elo0)``, H1 ``expected_score(elo1)``
(logistic Elo). Each hypothesis is fitted to the data by maximum likelihood under its mean (step 2
below), so draw rates need no model, and

    LLR = N * sum_i p_i * log(q1_i / q0_i)

is compared with Wald's bounds ``log(beta / (1 - alpha))`` (accept H0) and ``log((1 - beta) / alpha)``
(accept H1).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from lab.errors import LabError, closest

__all__ = ["SprtSpec", "SprtStatus", "parse_sprt", "pentanomial", "llr", "sprt_status", "PAIR_SCORES"]

PAIR_SCORES = np.array([0.0, 0.25, 0.5, 0.75, 1.0])
"""Mean score per game of a game pair with 0, 0.5, 1, 1.5 and 2 points."""


@dataclass(frozen=True)
class SprtSpec:
    """``--sprt elo0=E0,elo1=E1[,alpha=A,beta=B]``."""

    elo0: float
    elo1: float
    alpha: float = 0.05
    """Probability of accepting H1 when H0 holds."""
    beta: float = 0.05
    """Probability of accepting H0 when H1 holds."""

    @property
    def bounds(self) -> tuple[float, float]:
        """``(lower, upper)`` LLR bounds: at or below lower H0 is accepted, at or above upper H1."""
        return math.log(self.beta / (1 - self.alpha)), math.log((1 - self.beta) / self.alpha)

    def text(self) -> str:
        return f"elo0={self.elo0:g},elo1={self.elo1:g},alpha={self.alpha:g},beta={self.beta:g}"


def parse_sprt(text: str) -> SprtSpec:
    """Parse ``elo0=0,elo1=50[,alpha=0.05,beta=0.05]``.

    >>> parse_sprt("elo0=0,elo1=50")
    SprtSpec(elo0=0.0, elo1=50.0, alpha=0.05, beta=0.05)
    """
    keys = ("elo0", "elo1", "alpha", "beta")
    values: dict[str, float] = {}
    for part in text.split(","):
        key, eq, value = part.strip().partition("=")
        key = key.strip()
        if not eq:
            raise LabError(f"--sprt {text}: expected KEY=VALUE parts, got {part.strip()!r} (e.g. elo0=0,elo1=50)")
        if key not in keys:
            hits = closest(key, keys, n=1)
            hint = f"; did you mean {hits[0]!r}?" if hits else ""
            raise LabError(f"--sprt {text}: unknown key {key!r}{hint} Keys: {', '.join(keys)}")
        try:
            number = float(value)
        except ValueError:
            number = float("nan")
        if not math.isfinite(number):
            raise LabError(f"--sprt {text}: {key}: expected a number, got {value.strip()!r}")
        values[key] = number
    for key in ("elo0", "elo1"):
        if key not in values:
            raise LabError(f"--sprt {text}: missing {key} (e.g. --sprt elo0=0,elo1=50)")
    if values["elo0"] >= values["elo1"]:
        raise LabError(f"--sprt {text}: bounds out of order: elo0 ({values['elo0']:g}) must be below elo1 "
                       f"({values['elo1']:g})")
    for key in ("alpha", "beta"):
        if key in values and not 0 < values[key] < 0.5:
            raise LabError(f"--sprt {text}: {key}: expected a probability between 0 and 0.5, got {values[key]:g}")
    return SprtSpec(**values)


def pentanomial(pair_points: list[float] | np.ndarray) -> np.ndarray:
    """Counts of pairs with 0, 0.5, 1, 1.5, 2 points: ``(5,)``."""
    idx = np.rint(np.asarray(pair_points, dtype=float) * 2).astype(int)
    return np.bincount(idx, minlength=5)[:5].astype(float)


def _mle_under_mean(p: np.ndarray, s: float) -> np.ndarray:
    """The distribution over :data:`PAIR_SCORES` closest to ``p`` (max likelihood) with mean ``s``.

    ``q_i = p_i / (1 + lam * (a_i - s))`` where ``lam`` solves ``sum p_i (a_i - s) / (1 + lam (a_i - s)) = 0``
    (Van den Bergh); the root is found by bisection, vectorized over the leading axes of ``p``.
    ``p``: ``(..., 5)``, every entry > 0.
    """
    d = PAIR_SCORES - s  # (5,), min < 0 < max since 0 < s < 1
    lo = np.full(p.shape[:-1], -1.0 / d.max() + 1e-12)
    hi = np.full(p.shape[:-1], -1.0 / d.min() - 1e-12)
    for _ in range(80):  # f is decreasing in lam: keep f(lo) > 0 > f(hi)
        mid = 0.5 * (lo + hi)
        f = np.sum(p * d / (1.0 + mid[..., None] * d), axis=-1)
        lo = np.where(f > 0, mid, lo)
        hi = np.where(f > 0, hi, mid)
    lam = 0.5 * (lo + hi)
    return p / (1.0 + lam[..., None] * d)


def llr(counts: np.ndarray, elo0: float, elo1: float) -> np.ndarray:
    """The log-likelihood ratio of H1 against H0 for pentanomial ``counts`` ``(..., 5)``.

    Empty cells get 1e-3 pairs (fishtest's regularization) so that both constrained fits exist.
    """
    counts = np.maximum(np.asarray(counts, dtype=float), 1e-3)
    total = counts.sum(axis=-1)
    p = counts / total[..., None]
    s0 = 1.0 / (1.0 + 10 ** (-elo0 / 400))
    s1 = 1.0 / (1.0 + 10 ** (-elo1 / 400))
    q0, q1 = _mle_under_mean(p, s0), _mle_under_mean(p, s1)
    return total * np.sum(p * np.log(q1 / q0), axis=-1)


@dataclass
class SprtStatus:
    """Where the test stands after ``pairs`` game pairs."""

    spec: SprtSpec
    counts: np.ndarray
    llr: float
    decision: str | None
    """``"H1"`` (elo1 accepted), ``"H0"`` (elo0 accepted) or None (keep playing)."""

    @property
    def pairs(self) -> int:
        return int(self.counts.sum())

    def to_json(self) -> dict[str, Any]:
        lower, upper = self.spec.bounds
        return {
            "elo0": self.spec.elo0, "elo1": self.spec.elo1, "alpha": self.spec.alpha, "beta": self.spec.beta,
            "llr": round(self.llr, 4), "lower_bound": round(lower, 4), "upper_bound": round(upper, 4),
            "decision": self.decision, "pairs": self.pairs, "games": 2 * self.pairs,
            "pentanomial": [int(c) for c in self.counts],
        }

    def describe(self) -> str:
        lower, upper = self.spec.bounds
        what = {"H1": f"H1 accepted (elo >= {self.spec.elo1:g})", "H0": f"H0 accepted (elo <= {self.spec.elo0:g})",
                None: "no decision yet"}[self.decision]
        return (f"SPRT {self.spec.text()}: {what}; LLR {self.llr:.2f} (bounds {lower:.2f}, {upper:.2f}) "
                f"after {2 * self.pairs} games ({self.pairs} pairs)")


def sprt_status(spec: SprtSpec, pair_points: list[float] | np.ndarray) -> SprtStatus:
    """The test after the given game pairs (each the tested player's points in the pair, 0-2)."""
    counts = pentanomial(pair_points)
    value = float(llr(counts, spec.elo0, spec.elo1)) if counts.sum() else 0.0
    lower, upper = spec.bounds
    decision = "H1" if value >= upper else "H0" if value <= lower else None
    return SprtStatus(spec, counts, value, decision)
