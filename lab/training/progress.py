"""Live progress display (rich): steps done/total, steps per second, recent mean return, ETA.

On a terminal it draws a live bar on stderr; elsewhere (CI, pipes, files) it prints one line per tenth
of the budget, so logs stay readable.
"""

from __future__ import annotations

import collections
import math
import sys
import time
from collections.abc import Sequence
from typing import Any

from lab.events import (
    LevelDrawn,
    CheckpointSaved,
    EpisodeEnded,
    EvalCompleted,
    EventBus,
    MetricsLogged,
    RunFailed,
    RunFinished,
    RunInterrupted,
    RunStarted,
    SafePoint,
)
from lab.training.levels import LevelCounts

__all__ = ["ProgressDisplay", "format_duration"]


def format_duration(seconds: float) -> str:
    if not math.isfinite(seconds) or seconds < 0:
        return "-:--"
    seconds = int(round(seconds))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class ProgressDisplay:
    """Subscriber drawing the run's progress.

    Args:
        live: draw a live bar (default: when stderr is a terminal).
        return_metric: metric shown as "return" when the agent publishes no episodes (e.g. a win rate).
        metrics: metrics shown instead of a return (generators: ``train/loss``, ``train/images_per_s``), each
            under the last part of its key.
    """

    def __init__(self, live: bool | None = None, return_metric: str | None = None, metrics: Sequence[str] = ()) -> None:
        from rich.console import Console

        self.console = Console(stderr=True)
        self.live = self.console.is_terminal if live is None else live
        self.return_metric = return_metric
        self.metrics = tuple(metrics)
        self._values: dict[str, float] = {}
        self._returns: collections.deque[float] = collections.deque(maxlen=100)
        self._metric: float | None = None
        self._progress: Any = None
        self._task: Any = None
        self._total: float | None = None
        self._unit = "steps"
        self._label = ""
        self._t0 = time.perf_counter()
        self._step0 = 0
        self._done0 = 0.0
        self._step = 0
        self._last_draw = 0.0
        self._next_line = 0.1
        self._levels = LevelCounts()

    def attach(self, bus: EventBus) -> None:
        bus.subscribe(RunStarted, self.on_start)
        bus.subscribe(EpisodeEnded, self.on_episode)
        bus.subscribe(LevelDrawn, self.on_level)
        bus.subscribe(MetricsLogged, self.on_metrics)
        bus.subscribe(SafePoint, self.on_step)
        bus.subscribe(EvalCompleted, self.on_eval)
        bus.subscribe(CheckpointSaved, self.on_checkpoint)
        bus.subscribe(RunFinished, self.on_end)
        bus.subscribe(RunInterrupted, self.on_end)
        bus.subscribe(RunFailed, self.on_end)

    # --- figures ----------------------------------------------------------------------------
    def _done(self) -> float:
        if self._unit == "seconds":
            return self._done0 + (time.perf_counter() - self._t0)
        return float(self._step)

    def _rate(self) -> float:
        elapsed = time.perf_counter() - self._t0
        return (self._step - self._step0) / elapsed if elapsed > 0 else 0.0

    def _eta(self) -> float:
        if not self._total:
            return float("nan")
        if self._unit == "seconds":
            return self._total - self._done()
        rate = self._rate()
        return (self._total - self._step) / rate if rate > 0 else float("nan")

    def _ret(self) -> str:
        if self.metrics:
            shown = [f"{k.rsplit('/', 1)[-1]} {self._values[k]:.4g}" for k in self.metrics if k in self._values]
            return "  ".join(shown) or "-"
        if self._returns:
            ret = f"{sum(self._returns) / len(self._returns):.1f}"
        elif self._metric is not None:
            ret = f"{self._metric:.3g}"
        else:
            ret = "-"
        return f"return {ret}"

    def _line(self) -> str:
        total = f"/{self._total:,.0f}" if self._total else ""
        done = self._done()
        return (
            f"[{self._label}] {done:,.0f}{total} {self._unit}  {self._rate():,.0f} steps/s  "
            f"{self._ret()}  ETA {format_duration(self._eta())}"
            + (f"  {self._levels.summary()}" if self._levels.drawn else "")
        )

    # --- handlers ---------------------------------------------------------------------------
    def on_start(self, e: RunStarted) -> None:
        from rich.progress import BarColumn, Progress, TextColumn

        self._label = f"{e.algo} {e.env}"
        self._total = e.total
        self._unit = e.unit
        self._step0 = self._step = e.step
        self._done0 = e.done  # read only for time budgets
        self._t0 = time.perf_counter()
        if e.resumed_from is not None:
            self.console.print(f"resuming {e.run_dir} from step {e.resumed_from:,}")
        else:
            self.console.print(f"run folder: {e.run_dir}")
        if self.live:
            self._progress = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                TextColumn("{task.fields[done]}"),
                TextColumn("{task.fields[rate]}"),
                TextColumn("{task.fields[ret]}"),
                TextColumn("ETA {task.fields[eta]}"),
                TextColumn("{task.fields[levels]}", style="dim"),
                console=self.console,
                transient=False,
            )
            self._progress.start()
            self._task = self._progress.add_task(
                self._label, total=self._total, completed=self._done(), done="", rate="", ret=self._ret(), eta="-:--",
                levels="",
            )

    def _refresh(self, force: bool = False) -> None:
        now = time.perf_counter()
        if not force and now - self._last_draw < 0.2:
            return
        self._last_draw = now
        if self._progress is not None:
            total = f"/{self._total:,.0f}" if self._total else ""
            self._progress.update(
                self._task,
                completed=self._done(),
                done=f"{self._done():,.0f}{total} {self._unit}",
                rate=f"{self._rate():,.0f} steps/s",
                ret=self._ret(),
                eta=format_duration(self._eta()),
                levels=self._levels.summary() if self._levels.drawn else "",
            )
        elif self._total:
            frac = self._done() / self._total
            if frac >= self._next_line:
                self._next_line = (math.floor(frac * 10) + 1) / 10
                self.console.print(self._line(), highlight=False, markup=False)

    def on_episode(self, e: EpisodeEnded) -> None:
        self._returns.append(e.episode_return)
        self._step = e.step
        self._refresh()

    def on_level(self, e: LevelDrawn) -> None:
        self._levels.add(e)

    def on_metrics(self, e: MetricsLogged) -> None:
        if self.return_metric and self.return_metric in e.metrics:
            self._metric = e.metrics[self.return_metric]
        for k in self.metrics:
            if k in e.metrics:
                self._values[k] = e.metrics[k]
        self._step = max(self._step, e.step)
        self._refresh()

    def on_step(self, e: SafePoint) -> None:
        self._step = e.step
        self._refresh()

    def on_eval(self, e: EvalCompleted) -> None:
        self.console.print(
            f"eval @ {e.step:,} {self._unit}: {e.mean_return:.2f} ± {e.std_return:.2f} over {e.episodes} episodes",
            highlight=False,
        )

    def on_checkpoint(self, e: CheckpointSaved) -> None:
        if self._progress is not None:
            self._progress.console.print(f"checkpoint @ {e.step:,}: {e.path}", highlight=False, style="dim")

    def on_end(self, e: Any) -> None:
        self._step = max(self._step, e.step)
        if self._progress is None and self._total and isinstance(e, RunFinished):
            self._next_line = 0.0  # always print the last line
        self._refresh(force=True)
        if self._progress is not None:
            self._progress.stop()
            self._progress = None

    def close(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
        sys.stderr.flush()
