"""`lab train` end to end on tiny budgets: the run folder, reproduction, determinism, resume, W&B offline."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lab.eventlog import read_events
from lab.events import StopRequested, CheckpointSaved
from lab.runs import RunDir, load_state
from lab.training import resolve_config, resume, train

TINY_PPO = ["steps=512", "agent.n_steps=64", "agent.batch_size=64", "agent.n_epochs=2", "agent.n_envs=2"]
TINY_SAC = ["steps=600", "threads=1", "agent.learning_starts=100", "agent.net_arch=[32, 32]", "agent.batch_size=64"]


def _ppo(**flags):
    return resolve_config(algo="ppo", env="CartPole-v1", sets=TINY_PPO, flags={"track": False, **flags})


def test_run_folder_layout_and_event_log(tmp_path):
    result = train(_ppo(eval_episodes=3, checkpoint_every=256), run_dir=tmp_path / "r", display=False)
    run = RunDir(tmp_path / "r")
    assert result.status == "finished" and result.step == 512
    assert {p.name for p in run.path.iterdir()} >= {"config.yaml", "events.jsonl", "checkpoints", "model.pt", "eval.json", "curve.png"}
    assert [c.step for c in run.checkpoints()] == [256, 512]
    events = read_events(run.events_path)
    assert events[0]["event"] == "RunStarted" and events[0]["step"] == 0 and events[0]["total"] == 512
    assert events[-1]["event"] == "RunFinished" and events[-1]["step"] == 512
    assert all({"event", "step", "time"} <= e.keys() for e in events)
    kinds = {e["event"] for e in events}
    assert {"EpisodeEnded", "MetricsLogged", "CheckpointSaved", "EvalCompleted"} <= kinds
    ev = json.loads(run.eval_path.read_text())
    assert ev["episodes"] == 3 and len(ev["returns"]) == 3 and ev["step"] == 512
    assert ev["mean_return"] == pytest.approx(sum(ev["returns"]) / 3)
    model = load_state(run.model_path)
    assert model["format"] == "lab-checkpoint/1" and model["algo"] == "ppo" and model["step"] == 512
    assert "optimizer" not in json.dumps(list(model["agent"]["state_dicts"]))  # final model: policy only


def test_saved_config_reproduces_the_run(tmp_path):
    cfg = _ppo()
    first = train(cfg, run_dir=tmp_path / "a", display=False)
    again = resolve_config(config_file=str(tmp_path / "a" / "config.yaml"))
    assert again == cfg
    second = train(again, run_dir=tmp_path / "b", display=False)
    assert second.eval["mean_return"] == first.eval["mean_return"]  # same seed, CPU: identical
    assert json.loads((tmp_path / "a" / "eval.json").read_text())["returns"] == json.loads(
        (tmp_path / "b" / "eval.json").read_text()
    )["returns"]


def test_eval_video_writes_one_episode_at_the_env_frame_rate(tmp_path, monkeypatch):
    import imageio.v2 as imageio

    import lab.training.video
    from lab.training import evaluate_run

    written = {}
    real = lab.training.video.write_video

    def spy(frames, stem, fps):
        written.update(frames=len(frames), fps=fps)
        return real(frames, stem, fps=fps)

    monkeypatch.setattr(lab.training.video, "write_video", spy)
    train(_ppo(), run_dir=tmp_path / "r", display=False)
    event, extra = evaluate_run(str(tmp_path / "r"), episodes=2, video=True)
    path = Path(extra["video"])
    assert written["fps"] == 50.0  # CartPole-v1 declares render_fps 50
    assert path.parent == tmp_path / "r" and path.stem == "episode" and path.suffix in (".gif", ".mp4")
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".") and p.name != ".lock"]  # no temporary
    if path.suffix == ".mp4":  # imageio's ffmpeg reader leaks its pipes (ResourceWarning): ask ffmpeg directly
        import imageio_ffmpeg

        frames = imageio_ffmpeg.count_frames_and_secs(str(path))[0]
    else:
        frames = len(imageio.mimread(path))
    assert frames >= 1 and event.episodes == 2
    assert written["frames"] >= 9  # an episode of CartPole lasts at least 9 steps (plus the first frame)


def test_same_seed_gives_identical_sac_evaluations_and_another_seed_does_not(tmp_path):
    def run(name, seed):
        cfg = resolve_config(algo="sac", env="Pendulum-v1", sets=[*TINY_SAC, "steps=300", f"seed={seed}"], flags={"track": False, "eval_episodes": 2})
        return train(cfg, run_dir=tmp_path / name, display=False).eval["mean_return"]

    a, b, c = run("a", 0), run("b", 0), run("c", 1)
    assert a == b
    assert a != c


def test_stop_request_checkpoints_and_resume_finishes_at_the_budget(tmp_path):
    class StopAt:
        def attach(self, bus):
            def on_ckpt(e):
                if e.step >= 200:
                    bus.publish(StopRequested(reason="test"))

            bus.subscribe(CheckpointSaved, on_ckpt)

    cfg = resolve_config(algo="sac", env="Pendulum-v1", sets=TINY_SAC, flags={"track": False, "checkpoint_every": 200, "eval_episodes": 1})
    first = train(cfg, run_dir=tmp_path / "r", subscribers=[StopAt()], display=False)
    assert first.status == "stopped" and first.step in (200, 201)  # stops at the next step it can
    assert RunDir(tmp_path / "r").latest_checkpoint().step == first.step
    events = read_events(tmp_path / "r" / "events.jsonl")
    assert events[-1]["event"] == "RunInterrupted" and events[-1]["reason"] == "test"
    done = resume(tmp_path / "r", display=False)
    assert done.status == "finished" and done.step == 600
    events = read_events(tmp_path / "r" / "events.jsonl")
    assert events[-1]["event"] == "RunFinished" and events[-1]["step"] == 600
    starts = [e for e in events if e["event"] == "RunStarted"]
    assert [s["resumed_from"] for s in starts] == [None, first.step]
    episode_ends = [e["step"] for e in events if e["event"] == "EpisodeEnded"]
    # Pendulum episodes are 200 steps; the resumed run starts a fresh episode at the checkpoint's step
    assert episode_ends == ([200, first.step + 200, 600] if first.step == 200 else [200, first.step + 200])
    again = resume(tmp_path / "r", display=False)
    assert again.reason == "already finished" and again.step == 600


def test_kill_9_then_resume_finishes_exactly_at_the_budget(tmp_path):
    run = tmp_path / "r"
    env = dict(os.environ, WANDB_MODE="offline")
    cmd = [sys.executable, "-m", "lab.cli", "train", "sac", "Pendulum-v1", "--run-dir", str(run), "--no-track", "-q",
           "--checkpoint-every", "200", "--eval-episodes", "1", *sum((["--set", s] for s in TINY_SAC), [])]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and not list((run / "checkpoints").glob("step_*.pt")):
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    done = resume(run, display=False)
    assert done.status == "finished" and done.step == 600
    events = read_events(run / "events.jsonl")
    assert events[-1]["event"] == "RunFinished" and events[-1]["step"] == 600
    ends = [e["step"] for e in events if e["event"] == "EpisodeEnded"]
    assert ends == sorted(set(ends)), "no step counted twice"
    ckpt_steps = [e["step"] for e in events if e["event"] == "CheckpointSaved"]
    assert ckpt_steps == sorted(set(ckpt_steps)) and ckpt_steps[-1] == 600


def test_wandb_offline_run_id_is_kept_across_resume(tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.delenv("WANDB_API_KEY", raising=False)

    class StopAt:
        def attach(self, bus):
            bus.subscribe(CheckpointSaved, lambda e: bus.publish(StopRequested(reason="test")) if e.step >= 256 else None)

    cfg = _ppo(track=True, checkpoint_every=256, eval_episodes=1)
    train(cfg, run_dir=tmp_path / "r", subscribers=[StopAt()], display=False)
    run_id = (tmp_path / "r" / "wandb_id").read_text().strip()
    assert len(run_id) == 8
    resume(tmp_path / "r", display=False)
    assert (tmp_path / "r" / "wandb_id").read_text().strip() == run_id
    offline = list((tmp_path / "r" / "wandb").glob("offline-run-*"))
    # both parts logged to the same W&B run: offline-run-<time>-<id>, with "-1" added when both start
    # within the same second
    assert offline and all(re.fullmatch(rf"offline-run-\d+_\d+-{run_id}(-\d+)?", p.name) for p in offline), offline
