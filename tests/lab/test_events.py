"""The event bus and the durable event log."""

from __future__ import annotations

import json

from lab.eventlog import EventLog, read_events, roll_back
from lab.events import CheckpointSaved, EpisodeEnded, Event, EventBus, MetricsLogged, RunFinished, SafePoint


def test_bus_delivers_by_type_including_base_classes_in_order():
    bus = EventBus()
    got: list[str] = []
    bus.subscribe(MetricsLogged, lambda e: got.append(f"metrics {e.step}"))
    bus.subscribe(Event, lambda e: got.append(f"any {type(e).__name__}"))
    unsubscribe = bus.subscribe(EpisodeEnded, lambda e: got.append(f"episode {e.episode_return}"))
    bus.publish(MetricsLogged(step=3, metrics={"a": 1.0}))
    bus.publish(EpisodeEnded(step=4, episode_return=9.5, episode_length=9))
    unsubscribe()
    bus.publish(EpisodeEnded(step=5, episode_return=1.0, episode_length=1))
    assert got == ["metrics 3", "any MetricsLogged", "episode 9.5", "any EpisodeEnded", "any EpisodeEnded"]


def test_events_are_frozen():
    e = RunFinished(step=1)
    try:
        e.step = 2  # type: ignore[misc]
    except AttributeError:
        pass
    else:
        raise AssertionError("events must be immutable")


def test_event_log_writes_one_flushed_json_line_per_recorded_event(tmp_path):
    bus = EventBus()
    log = EventLog(tmp_path / "events.jsonl")
    log.attach(bus)
    bus.publish(MetricsLogged(step=10, time=1.5, metrics={"loss": float("nan"), "x": 2.0}))
    bus.publish(SafePoint(step=10, agent=object()))  # not recorded: it carries the live agent
    # flushed per event: readable before close
    lines = (tmp_path / "events.jsonl").read_text().splitlines()
    assert [json.loads(line) for line in lines] == [
        {"event": "MetricsLogged", "step": 10, "time": 1.5, "metrics": {"loss": None, "x": 2.0}}
    ]
    log.close()


def test_read_events_skips_a_line_cut_short_by_a_crash(tmp_path):
    path = tmp_path / "events.jsonl"
    path.write_text('{"event": "A", "step": 1}\n{"event": "B", "st')
    assert read_events(path) == [{"event": "A", "step": 1}]
    assert read_events(tmp_path / "missing.jsonl") == []


def test_roll_back_moves_events_after_the_checkpoint_aside(tmp_path):
    path = tmp_path / "events.jsonl"
    events = [
        {"event": "EpisodeEnded", "step": 100},
        {"event": "CheckpointSaved", "step": 200, "path": "/x/checkpoints/step_000000200.pt"},
        {"event": "EpisodeEnded", "step": 200},  # same step, after the checkpoint: rolled back
        {"event": "EpisodeEnded", "step": 300},
    ]
    path.write_text("".join(json.dumps(e) + "\n" for e in events))
    assert roll_back(path, 200, "step_000000200.pt") == 2
    assert read_events(path) == events[:2]
    assert read_events(tmp_path / "events.rolled-back.jsonl") == events[2:]


def test_roll_back_without_a_logged_checkpoint_cuts_by_step(tmp_path):
    path = tmp_path / "events.jsonl"
    events = [{"event": "E", "step": s} for s in (0, 100, 200, 300)]
    path.write_text("".join(json.dumps(e) + "\n" for e in events))
    assert roll_back(path, 200, "step_000000200.pt") == 1
    assert [e["step"] for e in read_events(path)] == [0, 100, 200]
    assert roll_back(path, -1, None) == 3
    assert read_events(path) == []


def test_checkpoint_saved_is_recorded():
    assert CheckpointSaved.recorded and not SafePoint.recorded
