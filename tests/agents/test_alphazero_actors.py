"""AlphaZero self-play actors: --workers 1 is today's run exactly, N actors give the same run for the same seed,
an actor killed mid-iteration is restarted and its partial games dropped, kill -9 of the run resumes, bad input."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

import agents.alphazero.actors as actors
from agents.alphazero import AlphaZero, AlphaZeroConfig
from lab.agent import TrainContext
from lab.cli import app
from lab.envs import resolve_env
from lab.errors import ConfigError
from lab.eventlog import read_events
from lab.events import EventBus, MetricsLogged
from lab.scheduler import JobFailed

TINY = dict(games_per_iteration=6, simulations=6, play_simulations=8, channels=8, blocks=1, batch_size=32, eval_interval=0)


@pytest.fixture(autouse=True)
def one_thread():
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


def _run(tmp_path, iterations: int = 2, seed: int = 3, bus: EventBus | None = None, **over) -> tuple[AlphaZero, list[dict]]:
    agent = AlphaZero(AlphaZeroConfig(**{**TINY, **over}), resolve_env("tictactoe"), seed=seed, device="cpu")
    bus = bus or EventBus()
    seen: list[dict] = []
    bus.subscribe(MetricsLogged, lambda e: seen.append(e.metrics))
    agent.learn(TrainContext(bus=bus, run_dir=tmp_path), iterations)
    return agent, seen


def _weights_sum(agent: AlphaZero) -> float:
    return float(sum(p.double().sum() for p in agent.net.state_dict().values()))


def _same_run(a: AlphaZero, b: AlphaZero) -> None:
    for k, v in a.net.state_dict().items():
        assert torch.equal(v, b.net.state_dict()[k]), k
    np.testing.assert_array_equal(a.replay_states, b.replay_states)
    np.testing.assert_array_equal(a.replay_policies, b.replay_policies)
    np.testing.assert_array_equal(a.replay_values, b.replay_values)
    assert a.games_played == b.games_played


def test_workers_1_gives_the_results_of_the_single_process_code(tmp_path):
    """Golden figures recorded from the code before self-play actors existed (same config, seed 3, 1 thread)."""
    agent, seen = _run(tmp_path)
    assert _weights_sum(agent) == pytest.approx(91.97027920867549, rel=1e-12)
    assert int(agent.replay_states.sum()) == 17399 and float(agent.replay_values.sum()) == 7.0
    assert float(agent.replay_policies.sum(0)[4]) == pytest.approx(8.098484992980957, rel=1e-7)
    assert [m["train/policy_loss"] for m in seen] == pytest.approx([2.227023283640544, 2.213150835037231], rel=1e-9)
    assert "selfplay/actor_0/games_per_hour" not in seen[0]  # no actors: the games were played in this process


def test_two_actors_same_seed_same_run_and_every_game_counted_once(tmp_path):
    first, seen = _run(tmp_path, workers=2)
    second, _ = _run(tmp_path, workers=2)
    _same_run(first, second)
    assert first.games_played == 24  # 6 games an iteration on each actor
    one, _ = _run(tmp_path, workers=1)
    assert not np.array_equal(one.replay_states, first.replay_states)  # per-actor seeds: a different (valid) run
    m = seen[-1]
    for key in ("selfplay/actor_0/games_per_hour", "selfplay/actor_1/games_per_hour", "selfplay/games_per_hour",
                "selfplay/games_per_hour_per_actor", "train/samples_per_s"):
        assert np.isfinite(m[key]) and m[key] > 0, key
    assert m["selfplay/actor_restarts"] == 0


def slow_play_share(**kwargs):
    """play_share whose games reach the learner 0.3 s apart, so a kill lands while the job still runs."""
    emit = actors.emit

    def slow_emit(item):
        sent = emit(item)
        if item[0] == "game":
            time.sleep(0.3)
        return sent

    actors.emit = slow_emit
    try:
        return actors.play_share(**kwargs)
    finally:
        actors.emit = emit


def test_an_actor_killed_mid_iteration_is_restarted_and_its_partial_games_are_dropped(tmp_path, monkeypatch):
    monkeypatch.setattr(actors, "JOB_TARGET", f"{__name__}:slow_play_share")
    clean, _ = _run(tmp_path, workers=2)

    killed: list[int] = []
    original = actors.SelfPlayActors._on_output

    def on_output(self, name, attempt, item):
        original(self, name, attempt, item)
        if name == "selfplay-1-0" and attempt == 1 and item[0] == "game" and not killed:
            killed.append(len(self._pending[(name, attempt)]))
            os.kill(self.pids[name], signal.SIGKILL)

    monkeypatch.setattr(actors.SelfPlayActors, "_on_output", on_output)
    bus = EventBus()
    failures: list[JobFailed] = []
    bus.subscribe(JobFailed, failures.append)
    restarted, seen = _run(tmp_path, workers=2, bus=bus)
    assert killed == [1]  # the dead attempt had streamed one game of its six
    assert [(f.name, f.attempt, f.final) for f in failures] == [("selfplay-1-0", 1, False)]
    assert "SIGKILL" in failures[0].error
    assert [m["selfplay/actor_restarts"] for m in seen] == [0, 1]
    _same_run(clean, restarted)  # the streamed game of the dead attempt was not counted: the run is unchanged


def test_bad_worker_counts_and_backends_are_refused():
    with pytest.raises(ConfigError, match=r"agent.workers: 99 self-play actors need 99 cores and this machine has \d+"):
        AlphaZeroConfig(workers=99)
    with pytest.raises(ConfigError, match=r"--workers: expected a positive number, got 0"):
        AlphaZeroConfig(workers=0)
    with pytest.raises(ConfigError, match=r"agent.address: 127.0.0.1:9 needs --backend ray"):
        AlphaZeroConfig(workers=2, address="127.0.0.1:9")


def test_cli_refuses_more_workers_than_cores_and_a_silent_ray_address(tmp_path):
    runner = CliRunner()
    t0 = time.perf_counter()
    r = runner.invoke(app, ["train", "alphazero", "tictactoe", "--workers", "64", "--iterations", "1", "-q",
                            "--run-dir", str(tmp_path / "a")])
    assert r.exit_code == 2 and len(r.output.strip().splitlines()) == 1, r.output
    assert "self-play actors need 64 cores" in r.output
    r = runner.invoke(app, ["train", "alphazero", "tictactoe", "--workers", "2", "--backend", "ray", "--address",
                            "127.0.0.1:9", "--iterations", "1", "-q", "--run-dir", str(tmp_path / "b")])
    assert r.exit_code == 2 and len(r.output.strip().splitlines()) == 1, r.output
    assert "--address 127.0.0.1:9: no Ray cluster answers there" in r.output
    assert time.perf_counter() - t0 < 30
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def _cli(run, *extra) -> list[str]:
    return [sys.executable, "-m", "lab.cli", "train", "alphazero", "tictactoe", "--run-dir", str(run), "--no-track",
            "-q", "--seed", "1", "--iterations", "30", "--games-per-iteration", "6", "--simulations", "6",
            "--set", "agent.channels=8", "--set", "agent.blocks=1", "--set", "agent.eval_interval=0",
            "--set", "agent.play_simulations=8", "--eval-episodes", "2", *extra]


def _kill_9_and_resume(tmp_path, *extra) -> None:
    env = dict(os.environ, WANDB_MODE="offline")
    straight = tmp_path / "straight"
    subprocess.run(_cli(straight, *extra), env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    run = tmp_path / "killed"
    proc = subprocess.Popen(_cli(run, *extra), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 240
    while time.time() < deadline and not list((run / "checkpoints").glob("step_*.pt")):
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert not (run / "model.pt").exists()
    pids = [int(e["worker"].split()[1]) for e in read_events(run / "events.jsonl")
            if e["event"] == "JobStarted" and e["worker"].startswith("pid ")]
    deadline = time.time() + 10
    while time.time() < deadline and any(os.path.exists(f"/proc/{p}") for p in pids):
        time.sleep(0.1)
    assert not any(os.path.exists(f"/proc/{p}") for p in pids), "actors outlived the killed run"
    subprocess.run([sys.executable, "-m", "lab.cli", "train", "--resume", str(run), "-q"], env=env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    a = torch.load(straight / "model.pt", weights_only=True)
    b = torch.load(run / "model.pt", weights_only=True)
    for k, v in a["agent"]["net"].items():
        assert torch.equal(v, b["agent"]["net"][k]), k
    assert a["agent"]["games_played"] == b["agent"]["games_played"] == 360
    events = read_events(run / "events.jsonl")
    assert events[-1]["event"] == "RunFinished"
    assert sum(e["event"] == "EpisodeEnded" for e in events) >= 360


def test_kill_9_with_two_actors_then_resume_equals_running_straight_through(tmp_path):
    _kill_9_and_resume(tmp_path, "--workers", "2")


@pytest.mark.slow  # a private Ray instance per run: ~1-2 min on 2 shared cores
def test_ray_actors_kill_9_then_resume_equals_running_straight_through(tmp_path):
    pytest.importorskip("ray")
    _kill_9_and_resume(tmp_path, "--workers", "2", "--backend", "ray")


@pytest.mark.slow
def test_ray_actors_give_the_same_run_as_local_actors(tmp_path):
    pytest.importorskip("ray")
    local, _ = _run(tmp_path, workers=2)
    ray_run, _ = _run(tmp_path, workers=2, backend="ray")
    _same_run(local, ray_run)
