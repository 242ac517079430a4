"""Learning-curve PNGs drawn from ``events.jsonl`` (matplotlib, no display needed)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from lab import atomic
from lab.eventlog import read_events
from lab.events import EpisodeEnded, EvalCompleted
from lab.runs import RunDir

__all__ = ["learning_curve"]


def _rolling(values: Sequence[float], window: int) -> list[float]:
    out, acc = [], 0.0
    for i, v in enumerate(values):
        acc += v
        if i >= window:
            acc -= values[i - window]
        out.append(acc / min(i + 1, window))
    return out


def learning_curve(runs: Sequence[str | os.PathLike], out: str | os.PathLike, title: str | None = None) -> Path | None:
    """Plot episode returns (rolling mean of 20) and evaluations of one or more runs into ``out``.

    Returns the path, or None when no run has an episode or an evaluation to show.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4), dpi=100)
    drawn = False
    for i, run in enumerate(runs):
        events = read_events(RunDir(run).events_path)
        color = f"C{i}"
        label = Path(run).name if len(runs) > 1 else None
        episodes = [e for e in events if e.get("event") == EpisodeEnded.__name__ and e.get("episode_return") is not None]
        if episodes:
            steps = [e["step"] for e in episodes]
            rets = [e["episode_return"] for e in episodes]
            ax.plot(steps, rets, color=color, alpha=0.15, linewidth=0.8)
            ax.plot(steps, _rolling(rets, 20), color=color, linewidth=1.6, label=(label or "training episodes (mean of 20)"))
            drawn = True
        evals = [e for e in events if e.get("event") == EvalCompleted.__name__ and e.get("mean_return") is not None]
        if evals:
            ax.errorbar(
                [e["step"] for e in evals],
                [e["mean_return"] for e in evals],
                yerr=[e.get("std_return") or 0.0 for e in evals],
                fmt="o",
                color=color,
                markersize=4,
                capsize=2,
                label=None if label else "evaluation (mean ± std)",
            )
            drawn = True
    if not drawn:
        plt.close(fig)
        return None
    ax.set_xlabel("environment steps")
    ax.set_ylabel("episode return")
    ax.grid(alpha=0.3)
    if title:
        ax.set_title(title)
    ax.legend(loc="best", fontsize=8)
    fig.tight_layout()
    out = Path(out)
    with atomic.atomic_write(out, "wb") as f:
        fig.savefig(f, format="png")
    plt.close(fig)
    return out
