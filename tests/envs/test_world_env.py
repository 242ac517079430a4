"""world:RUN_DIR environments on a hand-written world model with known dynamics: reset, step, truncation at the
real limit, the batched VecEnv's auto-reset, check_env."""

from __future__ import annotations

import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces
from gymnasium.utils.env_checker import check_env

from envs.world import WorldEnv, WorldVecEnv, parse_world_id
from lab.errors import LabError
from lab.world import WorldModel


class Counter:
    """obs' = obs + (action + 1) in the first coordinate; terminates once it passes 7; reward = the action."""

    world_model = "vector"
    env_id = "Counter-v0"
    observation_space = spaces.Box(-10.0, 10.0, (2,), np.float32)
    action_space = spaces.Discrete(2)
    max_episode_steps = 4

    def start_observations(self):
        return np.array([[0.0, 1.0], [1.0, 2.0]], np.float32)

    def dream_step(self, obs, actions, rng):
        nxt = obs.copy()
        nxt[:, 0] += np.asarray(actions).reshape(-1) + 1
        return {"obs": nxt, "reward": np.asarray(actions, np.float32).reshape(-1),
                "terminated": nxt[:, 0] > 7, "disagreement": np.full(len(obs), 0.5, np.float32)}


def test_the_model_meets_the_protocol():
    assert isinstance(Counter(), WorldModel)


def test_one_env_steps_the_model_and_truncates_at_the_real_limit():
    env = WorldEnv(Counter())
    obs, _ = env.reset(seed=0)
    assert obs.tolist() in ([0.0, 1.0], [1.0, 2.0])
    x0 = obs[0]
    out = [env.step(0) for _ in range(4)]
    assert [o[0][0] for o in out] == [x0 + 1, x0 + 2, x0 + 3, x0 + 4]
    assert [o[3] for o in out] == [False, False, False, True]  # truncated at max_episode_steps = 4
    assert not any(o[2] for o in out) and out[0][4] == {"disagreement": 0.5}
    env.reset(seed=0)
    steps = [env.step(1) for _ in range(4)]
    assert steps[3][2] and not steps[3][3] and steps[3][1] == 1.0  # x0 + 8 > 7: terminated, not truncated


def test_reset_is_seeded_and_check_env_passes():
    env = WorldEnv(Counter())
    assert np.array_equal(env.reset(seed=3)[0], WorldEnv(Counter()).reset(seed=3)[0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # gymnasium's remarks on the copied space, not failures
        check_env(env, skip_render_check=True)
    with pytest.raises(gym.error.ResetNeeded):
        WorldEnv(Counter()).step(0)


def test_vec_env_steps_the_batch_at_once_and_resets_done_envs():
    venv = WorldVecEnv(Counter(), 3)
    venv.seed(0)
    obs = venv.reset()
    assert obs.shape == (3, 2)
    again = WorldVecEnv(Counter(), 3)
    again.seed(0)
    assert np.array_equal(obs, again.reset())
    first = obs[:, 0].copy()
    o, r, d, infos = venv.step(np.array([1, 1, 0]))
    assert np.array_equal(o[:, 0], first + [2, 2, 1]) and r.tolist() == [1, 1, 0] and not d.any()
    for _ in range(3):
        o, r, d, infos = venv.step(np.array([1, 1, 0]))
    assert d.all()  # 4 steps: envs 0 and 1 passed 7 (terminated), env 2 hit the limit (truncated)
    assert [i["TimeLimit.truncated"] for i in infos] == [False, False, True]
    assert infos[2]["terminal_observation"][0] == first[2] + 4
    assert all(row.tolist() in ([0.0, 1.0], [1.0, 2.0]) for row in o)  # reset to real starts
    assert infos[0]["disagreement"] == 0.5


def test_world_ids():
    assert parse_world_id("world:runs/x") == "runs/x"
    with pytest.raises(LabError, match=r"expected world:RUN_DIR"):
        parse_world_id("world:")
