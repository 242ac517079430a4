"""The run's final files, written by subscribers to ``RunFinished``: ``eval.json`` and ``curve.png``.

(``model.pt`` is written by :class:`lab.training.checkpoints.FinalModelWriter`.) A new final artefact is
one more subscriber here, not an edit of the run loop.
"""

from __future__ import annotations

from typing import Any

from lab.evaluation import write_eval_json
from lab.events import EvalCompleted, EventBus, RunFinished
from lab.runs import RunDir

__all__ = ["EvalFileWriter", "CurveWriter"]


class EvalFileWriter:
    """Writes the run's last evaluation (the final one) to ``eval.json`` when the run finishes."""

    def __init__(self, run: RunDir, **extra: Any) -> None:
        self.run = run
        self.extra = extra
        self.last: EvalCompleted | None = None

    def attach(self, bus: EventBus) -> None:
        bus.subscribe(EvalCompleted, self.on_eval)
        bus.subscribe(RunFinished, self.on_finished)

    def on_eval(self, event: EvalCompleted) -> None:
        self.last = event

    def on_finished(self, event: RunFinished) -> None:
        if self.last is not None:
            more: dict[str, Any] = {}
            if event.updates is not None:
                more["updates"] = event.updates
                if event.updates == 0:
                    more["warning"] = "no update was made: this is the untrained initial policy"
            write_eval_json(self.run, self.last, **self.extra, **more)


class CurveWriter:
    """Draws ``curve.png`` from the run's ``events.jsonl`` when the run finishes."""

    def __init__(self, run: RunDir, title: str | None = None) -> None:
        self.run = run
        self.title = title

    def attach(self, bus: EventBus) -> None:
        bus.subscribe(RunFinished, self.on_finished)

    def on_finished(self, event: RunFinished) -> None:
        from lab.training.plots import learning_curve

        learning_curve([self.run.path], self.run.curve_path, title=self.title)
