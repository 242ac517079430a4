"""The SB3 agents' configs mirror the SB3 constructors, and rl-baselines3-zoo entries translate exactly."""

from __future__ import annotations

import dataclasses
import inspect

import pytest
import stable_baselines3

from agents.sb3 import A2C, DQN, PPO, SAC, TD3
from agents.sb3.config import LAB_FIELDS
from agents.sb3.zoo import from_zoo, parse_policy_kwargs
from lab.config import field_docs
from lab.errors import ConfigError

AGENTS = [PPO, A2C, DQN, SAC, TD3]


@pytest.mark.parametrize("agent", AGENTS, ids=lambda a: a.key)
def test_config_fields_are_sb3_arguments_with_sb3_defaults(agent):
    params = inspect.signature(getattr(stable_baselines3, agent.algorithm).__init__).parameters
    for f in dataclasses.fields(agent.Config):
        if f.name in LAB_FIELDS:
            continue
        assert f.name in params, f"{agent.key}.{f.name} is not an argument of SB3's {agent.algorithm}"
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
        assert default == params[f.name].default, f"{agent.key}.{f.name}: {default!r} != SB3's {params[f.name].default!r}"


@pytest.mark.parametrize("agent", AGENTS, ids=lambda a: a.key)
def test_every_config_field_is_documented(agent):
    docs = field_docs(agent.Config)
    missing = [f.name for f in dataclasses.fields(agent.Config) if not docs.get(f.name)]
    assert not missing, f"{agent.key}: fields without a docstring: {missing}"


@pytest.mark.parametrize("agent", AGENTS, ids=lambda a: a.key)
def test_tuned_keys_are_config_fields_or_run_keys(agent):
    from agents.sb3.tuned import TUNED

    fields = {f.name for f in dataclasses.fields(agent.Config)} | {"steps", "threads"}
    for (algo, env_id), values in TUNED.items():
        if algo == agent.key:
            assert set(values) <= fields, (env_id, set(values) - fields)


def test_tuned_defaults_cover_the_issue_environments():
    from agents.sb3.tuned import TUNED

    for env_id in ("CartPole-v1", "Acrobot-v1", "MountainCar-v0", "Pendulum-v1", "HalfCheetah-v5", "Hopper-v5"):
        assert any(e == env_id for (_a, e) in TUNED), env_id
    assert PPO.tuned("MyOwnEnv-v0") == {}


def test_zoo_entry_translates_to_lab_keys_and_reports_the_rest():
    entry = {
        "n_timesteps": "!!float 5e4".split()[-1],
        "policy": "MlpPolicy",
        "learning_rate": "lin_0.001",
        "clip_range": "lin_0.2",
        "n_envs": 8,
        "normalize": "dict(norm_obs=True, norm_reward=False)".replace("dict(", "{'").replace("=", "': ").replace(", ", ", '").replace(")", "}"),
        "policy_kwargs": "dict(net_arch=[dict(pi=[64], vf=[64])], activation_fn=nn.ReLU, ortho_init=False, optimizer_class=RMSpropTFLike)",
        "frame_stack": 4,
        "callback": "rl_zoo3.callbacks.ParallelTrainCallback",
    }
    layer, ignored = from_zoo(PPO.Config, entry)
    assert layer == {
        "steps": 50_000,
        "agent": {
            "policy": "MlpPolicy",
            "learning_rate": 0.001,
            "lr_schedule": "linear",
            "clip_range": 0.2,
            "clip_range_schedule": "linear",
            "n_envs": 8,
            "normalize": True,
            "normalize_reward": False,
            "net_arch": {"pi": [64], "vf": [64]},
            "activation": "relu",
            "policy_kwargs": {"ortho_init": False},
            "frame_stack": 4,
        },
    }
    assert sorted(ignored) == ["callback", "policy_kwargs.optimizer_class"]


def test_policy_kwargs_are_parsed_without_executing_anything():
    assert parse_policy_kwargs("dict(net_arch=[256, 256], log_std_init=-2)") == (
        {"net_arch": [256, 256], "policy_kwargs": {"log_std_init": -2}},
        [],
    )
    with pytest.raises(ConfigError, match="policy_kwargs: expected dict"):
        parse_policy_kwargs("__import__('os').system('echo hi')")


def test_hyperparams_file_through_the_cli_reports_unused_keys(tmp_path):
    from typer.testing import CliRunner

    from lab.cli import app

    path = tmp_path / "dqn.yml"
    path.write_text(
        "CartPole-v1:\n  n_timesteps: !!float 5e4\n  learning_rate: !!float 2.3e-3\n"
        "  policy_kwargs: \"dict(net_arch=[256, 256])\"\n  env_wrapper: my.Wrapper\n"
    )
    result = CliRunner().invoke(app, ["config", "dqn", "CartPole-v1", "--hyperparams", str(path)])
    assert result.exit_code == 0, result.output
    assert result.stderr.strip() == f"note: {path}:1: CartPole-v1: keys not understood, not used: env_wrapper: my.Wrapper"
    assert "steps: 50000" in result.stdout
    assert "learning_rate: 0.0023" in result.stdout
    assert "net_arch: [256, 256]" in result.stdout
    result = CliRunner().invoke(app, ["config", "dqn", "Acrobot-v1", "--hyperparams", str(path)])
    assert result.exit_code == 2
    assert result.stderr.strip() == f"error: {path}: no entry for 'Acrobot-v1'; it has: CartPole-v1"


def test_off_policy_n_steps_gives_sb3_n_step_returns():
    import numpy as np

    from lab.envs import resolve_env

    cfg = DQN.Config(n_steps=3, gamma=0.5, learning_starts=10_000, buffer_size=1_000)
    agent = DQN(cfg, resolve_env("CartPole-v1"), seed=0, device="cpu")
    agent.model.learn(300)  # collection only: learning starts later
    batch = agent.model.replay_buffer.sample(256)
    rewards = set(np.round(batch.rewards.numpy().ravel(), 6).tolist())
    # CartPole pays 1 per step: 1 + 0.5 + 0.25 over three steps, less where the episode ends sooner
    assert rewards <= {1.0, 1.5, 1.75} and 1.75 in rewards
    with pytest.raises(ValueError, match="n_steps: expected a positive number, got 0"):
        DQN.Config(n_steps=0)
