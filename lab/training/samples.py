"""Generator runs' subscribers: sample grids to PNG (and W&B), and the sample-quality evaluation to ``eval.json``.

A generator publishes ``ImagesReady`` (its fixed-seed samples) now and then and at the end; the
:class:`SampleGridWriter` tiles them into ``samples/step_<N>.png`` and ``samples.png`` (the latest) and
announces each file with ``ImageSaved``, which the W&B logger uploads as an image. The
:class:`SampleEvaluator` plays the part of the agents' periodic evaluator: every ``eval_every`` steps and at
the end it asks the generator for its offline metrics and publishes ``SamplesEvaluated`` (recorded in
``events.jsonl``) and the headline numbers as ``eval/...`` metrics.
"""

from __future__ import annotations

from typing import Any

from lab import atomic
from lab.evaluation import PeriodicEvaluator
from lab.events import EventBus, ImageSaved, ImagesReady, MetricsLogged, RunFinished, SamplesEvaluated
from lab.images import save_grid
from lab.runs import RunDir

__all__ = ["SampleGridWriter", "SampleEvaluator", "SamplesFileWriter", "HEADLINE"]

HEADLINE = ("fd", "kid", "precision", "recall", "coverage", "class_accuracy", "copy_rate",
            "perfect_rate", "solvable_rate", "duplicate_rate", "novelty", "path_ks")  # the last five: level data sets (mazes)
"""Metrics of a generator evaluation that are also published as ``eval/<name>`` scalars."""


class SampleGridWriter:
    """Writes every ``ImagesReady`` as ``RUN/samples/<key>_step_<N>.png`` and ``RUN/<key>.png``; publishes ``ImageSaved``."""

    def __init__(self, run: RunDir) -> None:
        self.run = run
        self._bus: EventBus | None = None

    def attach(self, bus: EventBus) -> None:
        self._bus = bus
        bus.subscribe(ImagesReady, self.on_images)

    def on_images(self, e: ImagesReady) -> None:
        path = self.run.path / "samples" / f"{e.key}_step_{e.step:09d}.png"
        save_grid(path, e.images, nrow=e.nrow, invert=e.invert)
        save_grid(self.run.path / f"{e.key}.png", e.images, nrow=e.nrow, invert=e.invert)
        if self._bus is not None:
            self._bus.publish(ImageSaved(step=e.step, key=e.key, path=str(path)))


class SampleEvaluator(PeriodicEvaluator):
    """Scores the generator every ``every`` steps (0: only at the end) with ``evaluate(n, seed=, tables=False)``.

    The schedule (``attach``, ``start_at``, ``on_safe_point``) is the agents' periodic evaluator's; only what
    one evaluation does differs."""

    def __init__(self, every: int, seed: int, n: int | None = None) -> None:
        super().__init__(every, episodes=0, seed=seed)
        self.n = n

    def evaluate(self, generator: Any, step: int) -> dict[str, Any]:  # type: ignore[override]
        results = generator.evaluate(self.n, seed=self.seed, tables=False)
        assert self._bus is not None, "attach() the evaluator to a bus first"
        self._bus.publish(SamplesEvaluated(step=step, results=results))
        scalars = {f"eval/{k}": float(results[k]) for k in HEADLINE if isinstance(results.get(k), (int, float))}
        if scalars:
            self._bus.publish(MetricsLogged(step=step, metrics=scalars))
        return results

    @staticmethod
    def summary(results: dict[str, Any]) -> dict[str, Any]:
        """The headline numbers with their two references (what ``lab train`` prints at the end)."""
        if "headline" in results:  # a world model's prediction errors (lab.world)
            return {k: results.get(k) for k in results["headline"]}
        keys = [f"{m}{s}" for m in HEADLINE for s in ("", "_real", "_gmm")]
        return {k: results[k] for k in [*keys, "classes", "n"] if k in results}


class SamplesFileWriter:
    """Writes the last ``SamplesEvaluated`` (the final one) to ``eval.json`` when the run finishes."""

    def __init__(self, run: RunDir) -> None:
        self.run = run
        self.last: dict[str, Any] | None = None

    def attach(self, bus: EventBus) -> None:
        bus.subscribe(SamplesEvaluated, lambda e: setattr(self, "last", e.results))
        bus.subscribe(RunFinished, self.on_finished)

    def on_finished(self, event: RunFinished) -> None:
        if self.last is not None:
            atomic.write_json(self.run.eval_path, self.last)
