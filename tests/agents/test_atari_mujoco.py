"""Each environment family trains end to end with its tuned values: Atari (PPO, DQN), MuJoCo (PPO), MiniGrid.

Short runs (a few thousand steps) so these paths cannot break silently; times on a 2-core machine are
noted per test (the Atari and MuJoCo ones are marked slow: 15-40 s each).
"""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from lab.cli import app
from lab.eventlog import read_events
from lab.runs import RunDir

runner = CliRunner()


def _train(*args: str):
    result = runner.invoke(app, ["train", *args, "--no-track", "--quiet"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


def _sources(run: RunDir) -> str:
    return run.config_path.read_text()


@pytest.mark.slow  # ~25 s
def test_ppo_trains_on_breakout_v5_with_the_zoos_atari_values(tmp_path):
    pytest.importorskip("ale_py")
    run = RunDir(tmp_path / "r")
    _train("ppo", "ALE/Breakout-v5", "--steps", "2048", "--eval-episodes", "2", "--run-dir", str(run.path))
    assert json.loads(run.eval_path.read_text())["episodes"] == 2
    config = _sources(run)
    assert "n_envs: 8  # [rl-zoo ppo.yml:6 (atari)]" in config and "n_steps: 128  # [rl-zoo ppo.yml:6 (atari)]" in config
    assert "lr_schedule: linear  # [rl-zoo ppo.yml:6 (atari)]" in config
    started = read_events(run.events_path)[0]
    assert started["config"]["agent"]["frame_stack"] == 4 and started["total"] == 2048


@pytest.mark.slow  # ~20 s
def test_dqn_trains_on_pong_with_the_zoos_100k_buffer(tmp_path):
    pytest.importorskip("ale_py")
    from agents.sb3 import DQN
    from lab.training import config_env, resolve_config

    cfg = resolve_config(algo="dqn", env="ALE/Pong-v5", sets=["steps=1000", "agent.learning_starts=500"])
    assert cfg.agent.buffer_size == 100_000 and not cfg.agent.optimize_memory_usage
    agent = DQN(cfg.agent, config_env(cfg), seed=0, device="cpu")
    buffer = agent.model.replay_buffer
    assert buffer.observations.shape == (100_000, 1, 4, 84, 84) and buffer.observations.dtype.name == "uint8"
    agent.venv.close()
    run = RunDir(tmp_path / "r")
    _train("dqn", "ALE/Pong-v5", "--steps", "1000", "--set", "agent.learning_starts=500", "--eval-episodes", "1",
           "--run-dir", str(run.path))
    _ckpt, state = run.load_checkpoint()
    assert state["agent"]["counters"]["_n_updates"] >= 120  # a gradient step every 4 steps after learning_starts
    assert json.loads(run.eval_path.read_text())["mean_return"] >= -21


@pytest.mark.slow  # ~35 s
def test_ppo_trains_on_halfcheetah_v5_with_the_zoos_values(tmp_path):
    pytest.importorskip("mujoco")
    run = RunDir(tmp_path / "r")
    _train("ppo", "HalfCheetah-v5", "--steps", "2048", "--eval-episodes", "1", "--run-dir", str(run.path))
    config = _sources(run)
    assert "normalize: true  # [rl-zoo ppo.yml:" in config and "(HalfCheetah-v4)" in config
    assert json.loads(run.eval_path.read_text())["episodes"] == 1


def test_minigrid_trains_with_the_zoos_entry_and_its_env_wrapper(tmp_path, rl_zoo3_hyperparams):  # ~6 s
    pytest.importorskip("minigrid")
    import yaml

    zoo = yaml.safe_load((rl_zoo3_hyperparams / "ppo.yml").read_text())
    entry = zoo["MiniGrid-Empty-Random-5x5-v0"]  # the zoo's &minigrid-defaults
    assert entry["env_wrapper"] == "minigrid.wrappers.FlatObsWrapper"
    hyperparams = tmp_path / "ppo.yml"
    hyperparams.write_text(yaml.safe_dump({"MiniGrid-Empty-5x5-v0": entry}))
    run = RunDir(tmp_path / "r")
    # one rollout is 128 x 8 = 1,024 steps: a budget of 1,024 would end before its update (and is refused)
    _train("ppo", "minigrid:MiniGrid-Empty-5x5-v0", "--hyperparams", str(hyperparams), "--steps", "1280",
           "--eval-episodes", "2", "--run-dir", str(run.path))
    started = read_events(run.events_path)[0]
    assert started["config"]["env_wrapper"] == ["minigrid.wrappers.FlatObsWrapper"]
    assert started["config"]["agent"]["n_envs"] == 8 and started["config"]["agent"]["normalize"] is True
    assert json.loads(run.eval_path.read_text())["episodes"] == 2
    assert json.loads(run.eval_path.read_text())["updates"] > 0


def test_minigrid_ids_resolve_in_both_spellings_with_the_zoos_wrapper():
    pytest.importorskip("minigrid")
    from lab.envs import resolve_env

    for name in ("minigrid:MiniGrid-Empty-5x5-v0", "MiniGrid-Empty-5x5-v0"):
        info = resolve_env(name, wrappers="minigrid.wrappers.FlatObsWrapper")
        assert info.observation_space.shape == (2835,) and info.action_space.n == 7


def test_an_unwrapped_minigrid_level_is_refused_with_the_wrapper_to_add():
    pytest.importorskip("minigrid")
    result = runner.invoke(app, ["train", "ppo", "MiniGrid-Empty-5x5-v0", "--set", "env_wrapper=[]", "--no-track", "-q"])
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        "error: ppo cannot train on MiniGrid-Empty-5x5-v0: stable-baselines3 does not handle its MissionSpace "
        "observation 'mission': add a wrapper that removes or flattens it (env_wrapper, e.g. minigrid.wrappers.FlatObsWrapper)"
    )
