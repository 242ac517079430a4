"""Sweep plots (PNG): the metric per trial with the best so far, and parallel coordinates of the parameters."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lab import atomic

__all__ = ["metric_plot", "parallel_plot"]

_COLORS = {"complete": "tab:blue", "pruned": "tab:orange", "failed": "tab:red"}


def _save(fig: Any, out: str | os.PathLike, **kwargs: Any) -> None:
    """Write the figure as PNG through a temporary file, so a crash never leaves half a plot."""
    with atomic.atomic_write(out, "wb") as f:
        fig.savefig(f, format="png", dpi=100, **kwargs)


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def metric_plot(rows: Sequence[dict[str, Any]], spec: Any, out: str | os.PathLike) -> Path:
    """Each trial's metric (pruned trials at their last report) and the best complete value so far."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4))
    best: float | None = None
    xs, bests = [], []
    for row in rows:
        value = row.get(spec.metric)
        if value is None or not math.isfinite(float(value)):
            ax.scatter([row["trial"]], [0], marker="x", color=_COLORS["failed"])
            continue
        ax.scatter([row["trial"]], [value], color=_COLORS.get(row["state"], "gray"))
        if row["state"] == "complete":
            better = best is None or (value > best if spec.goal == "maximize" else value < best)
            best = value if better else best
        if best is not None:
            xs.append(row["trial"])
            bests.append(best)
    if xs:
        ax.step(xs, bests, where="post", color="black", linewidth=1, label="best so far")
    for state, color in _COLORS.items():
        ax.scatter([], [], color=color, label=state)
    ax.set_xlabel("trial")
    ax.set_ylabel(spec.metric)
    ax.set_title(f"sweep {spec.name}: {spec.goal} {spec.metric}")
    ax.legend(loc="best", fontsize=8)
    fig.tight_layout()
    _save(fig, out)
    plt.close(fig)
    return Path(out)


def parallel_plot(rows: Sequence[dict[str, Any]], spec: Any, out: str | os.PathLike) -> Path:
    """Parallel coordinates: one axis per searched parameter (log axes for log distributions), coloured by the metric."""
    plt = _pyplot()
    params = [p for p in spec.params if not p.fixed]
    axes_names = [p.path for p in params] + [spec.metric]
    scaled: list[list[float]] = []
    labels: list[list[str]] = []
    for p in params:
        values = [r.get(p.path) for r in rows]
        if p.discrete or any(isinstance(v, str) for v in values):
            cats = list(dict.fromkeys(str(v) for v in (p.values or values)))
            pos = {c: i / max(1, len(cats) - 1) for i, c in enumerate(cats)}
            scaled.append([pos.get(str(v), 0.5) for v in values])
            labels.append(cats)
            continue
        nums = [float(v) for v in values if v is not None]
        log = "log" in p.distribution and all(v > 0 for v in nums)
        f = (lambda v: math.log(v)) if log else (lambda v: v)
        lo, hi = (min(map(f, nums)), max(map(f, nums))) if nums else (0.0, 1.0)
        span = (hi - lo) or 1.0
        scaled.append([(f(float(v)) - lo) / span if v is not None else 0.5 for v in values])
        labels.append([f"{math.exp(lo) if log else lo:.3g}", f"{math.exp(hi) if log else hi:.3g}"])
    metric = [r.get(spec.metric) for r in rows]
    finite = [float(m) for m in metric if m is not None and math.isfinite(float(m))]
    lo, hi = (min(finite), max(finite)) if finite else (0.0, 1.0)
    span = (hi - lo) or 1.0
    scaled.append([(float(m) - lo) / span if m is not None and math.isfinite(float(m)) else 0.0 for m in metric])
    labels.append([f"{lo:.3g}", f"{hi:.3g}"])
    fig, ax = plt.subplots(figsize=(max(5, 2 * len(axes_names)), 4))
    cmap = plt.get_cmap("viridis")
    xs = list(range(len(axes_names)))
    for i in range(len(rows)):
        ys = [col[i] for col in scaled]
        ax.plot(xs, ys, color=cmap(ys[-1]), alpha=0.8, linestyle="--" if rows[i]["state"] != "complete" else "-")
    for x, lab in zip(xs, labels):
        ax.axvline(x, color="gray", linewidth=0.8)
        ticks = [j / max(1, len(lab) - 1) for j in range(len(lab))]
        for t, text in zip(ticks, lab):
            ax.text(x + 0.03, t, text, fontsize=7, va="center")
    ax.set_xticks(xs, axes_names, fontsize=8)
    ax.set_yticks([])
    ax.set_title(f"sweep {spec.name}: parameters and {spec.metric} (dashed: pruned or failed)")
    _save(fig, out, bbox_inches="tight")
    plt.close(fig)
    return Path(out)
