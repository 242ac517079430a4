"""Replay buffers are sized before they are allocated: a buffer that cannot fit is one line and exit 2."""

from __future__ import annotations

import numpy as np
import pytest
from gymnasium import spaces
from typer.testing import CliRunner

from agents.sb3.memory import replay_buffer_bytes
from lab.cli import app


def test_replay_buffer_bytes_known_answers():
    atari = spaces.Box(0, 255, (4, 84, 84), np.uint8)
    # 2 x 28,224 observation bytes + an int64 action + reward, done and timeout float32s
    assert replay_buffer_bytes(atari, spaces.Discrete(6), 1_000_000, 1, False) == (56_468_000_000, 56_468)
    assert replay_buffer_bytes(atari, spaces.Discrete(6), 1_000_000, 1, True) == (28_244_000_000, 28_244)
    box = spaces.Box(-1, 1, (17,), np.float32)
    assert replay_buffer_bytes(box, spaces.Box(-1, 1, (6,), np.float32), 10, 3, False) == (9 * 172, 172)


def test_the_estimate_matches_what_sb3_allocates():
    from stable_baselines3.common.buffers import ReplayBuffer

    obs, act = spaces.Box(0, 255, (3, 8, 8), np.uint8), spaces.Discrete(4)
    buf = ReplayBuffer(100, obs, act, n_envs=2)
    allocated = sum(a.nbytes for a in (buf.observations, buf.next_observations, buf.actions, buf.rewards, buf.dones, buf.timeouts))
    assert replay_buffer_bytes(obs, act, 100, 2, False)[0] == allocated


def test_a_buffer_that_does_not_fit_is_one_line_and_leaves_no_run_folder(tmp_path, monkeypatch):
    monkeypatch.setattr("agents.sb3.memory.available_bytes", lambda: 30_000_000)
    run = tmp_path / "r"
    result = CliRunner().invoke(
        app, ["train", "dqn", "CartPole-v1", "--no-track", "-q", "--run-dir", str(run), "--set", "agent.buffer_size=1000000"]
    )
    assert result.exit_code == 2, result.output
    assert result.stderr.strip() == (
        "error: dqn's replay buffer needs 52.0 MB (1,000,000 transitions of 52 bytes) and 30.0 MB is available: "
        "lower it with --set agent.buffer_size=519000"
    )
    assert not run.exists()


def test_optimize_memory_usage_trains(tmp_path):
    from lab.training import resolve_config, train

    from lab.errors import ConfigError

    sets = ["steps=300", "agent.optimize_memory_usage=true", "agent.learning_starts=100", "agent.buffer_size=1000"]
    with pytest.raises(ConfigError, match="agent.optimize_memory_usage: SB3's n-step replay buffer does not support it"):
        resolve_config(algo="dqn", env="CartPole-v1", sets=sets)  # the lab's CartPole DQN uses 3-step returns
    cfg = resolve_config(algo="dqn", env="CartPole-v1", sets=[*sets, "agent.n_steps=1"], flags={"track": False, "eval_episodes": 1})
    assert train(cfg, run_dir=tmp_path / "r", display=False).status == "finished"
