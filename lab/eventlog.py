"""``events.jsonl``: the durable record of a run, one JSON object per event, flushed per event.

On resume, the events published after the checkpoint the run resumes from describe steps that will be
done again: they move to ``events.rolled-back.jsonl`` so that no step is counted twice in
``events.jsonl`` and nothing written is lost.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

from lab import atomic
from lab.events import CheckpointSaved, Event, EventBus, event_to_dict

__all__ = ["EventLog", "read_events", "roll_back"]


def _default(obj: Any) -> Any:
    if hasattr(obj, "item") and callable(obj.item):
        return obj.item()
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    return repr(obj)


def _clean(value: Any) -> Any:
    """JSON has no NaN/inf: write them as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


class EventLog:
    """Subscriber appending every recorded event to ``path`` (one line each, flushed)."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self._file = None

    def attach(self, bus: EventBus) -> None:
        self._file = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - closed in close()
        bus.subscribe(Event, self.on_event)

    def on_event(self, event: Event) -> None:
        if not type(event).recorded or self._file is None:
            return
        line = json.dumps(_clean(event_to_dict(event)), default=_default, separators=(",", ":"))
        self._file.write(line + "\n")
        self._file.flush()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def read_events(path: str | os.PathLike) -> list[dict[str, Any]]:
    """All complete events in ``path`` (a line cut short by a crash is skipped)."""
    out = []
    try:
        with open(path, encoding="utf-8") as f:
            for line in f:
                try:
                    out.append(json.loads(line))
                except json.JSONDecodeError:
                    continue
    except FileNotFoundError:
        pass
    return out


def roll_back(path: str | os.PathLike, step: int, checkpoint_name: str | None) -> int:
    """Keep the events up to the checkpoint at ``step``; move later ones aside. Returns how many moved.

    The cut is the ``CheckpointSaved`` line of that checkpoint; if the crash came between writing the
    checkpoint and logging it, every event with a step above ``step`` is moved.
    """
    path = Path(path)
    if not path.exists():
        return 0
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    cut = None
    if checkpoint_name is not None:
        for i, line in enumerate(lines):
            try:
                e = json.loads(line)
            except json.JSONDecodeError:
                continue
            if e.get("event") == CheckpointSaved.__name__ and Path(str(e.get("path", ""))).name == checkpoint_name:
                cut = i + 1
    if cut is None:
        cut = 0
        for i, line in enumerate(lines):
            try:
                if json.loads(line).get("step", 0) > step:
                    break
            except json.JSONDecodeError:
                break
            cut = i + 1
    kept, moved = lines[:cut], lines[cut:]
    if moved:
        with open(path.with_name("events.rolled-back.jsonl"), "a", encoding="utf-8") as f:
            f.writelines(line if line.endswith("\n") else line + "\n" for line in moved)
            f.flush()
            os.fsync(f.fileno())
        atomic.write_text(path, "".join(kept))
    return len(moved)
