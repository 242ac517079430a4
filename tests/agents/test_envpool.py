"""``--vec envpool``: EnvPool's environments behind SB3's VecEnv, the lab's Atari settings, clear refusals."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from lab.envs import resolve_env
from lab.errors import LabError

ROOT = Path(__file__).resolve().parents[2]


def test_without_envpool_one_line_and_no_run_folder(tmp_path):
    """The check runs in a fresh interpreter where ``import envpool`` fails, as on a machine without it."""
    fake = tmp_path / "site"
    fake.mkdir()
    (fake / "envpool.py").write_text("raise ImportError('envpool is not installed')\n")
    run = tmp_path / "run"
    proc = subprocess.run(
        [sys.executable, "-m", "lab.cli", "train", "ppo", "CartPole-v1", "--vec", "envpool", "--steps", "4096",
         "--no-track", "--quiet", "--run-dir", str(run)],
        capture_output=True, text=True, cwd=ROOT, timeout=300,
        env={"PYTHONPATH": f"{fake}:{ROOT}", "WANDB_MODE": "offline", "PATH": "/usr/bin:/bin"},
    )
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().splitlines() == [
        "error: --vec envpool needs the envpool package: pip install envpool "
        "(or the lab's envpool extra: pip install -e '.[envpool]')"
    ]
    assert not run.exists()


def test_atari_and_mujoco_ids_map_to_envpool_tasks_with_the_lab_settings():
    pytest.importorskip("envpool")
    pytest.importorskip("ale_py")
    from agents.sb3.envpool_vec import envpool_task

    task, kw = envpool_task(resolve_env("ALE/Breakout-v5"))
    assert task == "Breakout-v5" and kw["repeat_action_probability"] == 0.25
    assert kw["episodic_life"] and kw["reward_clip"] and kw["frame_skip"] == 4 and kw["noop_max"] == 30
    task, kw = envpool_task(resolve_env("BreakoutNoFrameskip-v4"))
    assert task == "Breakout-v5" and kw["repeat_action_probability"] == 0.0
    assert envpool_task(resolve_env("HalfCheetah-v5")) == ("HalfCheetah-v5", {})
    wrapped = resolve_env("CartPole-v1", wrappers=["gymnasium.wrappers.FlattenObservation"])
    with pytest.raises(LabError, match=r"^--vec envpool: 'CartPole-v1': the config adds wrappers \(FlattenObservation\)"):
        envpool_task(wrapped)


def test_vec_env_resets_finished_envs_and_reports_whole_episodes():
    pytest.importorskip("envpool")
    from agents.sb3.envpool_vec import EnvPoolVecEnv

    venv = EnvPoolVecEnv("CartPole-v1", 3, seed=0)
    obs = venv.reset()
    assert obs.shape == (3, 4)
    episodes, terminal = [], 0
    for _ in range(300):
        venv.step_async(np.zeros(3, dtype=np.int64))  # always left: episodes of ~10 steps
        obs, reward, done, infos = venv.step_wait()
        assert reward.tolist() == [1.0, 1.0, 1.0]
        for i in np.flatnonzero(done):
            terminal += 1
            assert "terminal_observation" in infos[i] and abs(obs[i]).max() <= 0.05  # a fresh start, not the end
            episodes.append(infos[i]["episode"])
    venv.close()
    assert terminal == len(episodes) > 30
    assert all(e["r"] == e["l"] and 8 <= e["l"] <= 12 for e in episodes)  # CartPole: reward 1 per step


def test_ppo_trains_with_envpool_and_evaluates_in_process(tmp_path):
    pytest.importorskip("envpool")
    from lab.training import resolve_config, train

    cfg = resolve_config(algo="ppo", env="CartPole-v1", sets=["n_envs=4", "n_steps=64", "batch_size=64", "n_epochs=1"],
                         flags={"steps": 512, "track": False, "eval_episodes": 2})
    cfg.agent.vec = "envpool"
    result = train(cfg, run_dir=tmp_path / "run", display=False)
    assert result.step >= 512 and result.eval is not None and result.eval["episodes"] == 2
