"""The SB3 agents' configs mirror the SB3 constructors, and rl-baselines3-zoo entries translate exactly."""

from __future__ import annotations

import dataclasses
import inspect

import pytest

from agents.sb3 import A2C, DQN, PPO, QRDQN, SAC, TD3
from agents.sb3.config import LAB_FIELDS
from agents.sb3.zoo import from_zoo, parse_policy_kwargs
from lab.config import field_docs
from lab.errors import ConfigError

AGENTS = [PPO, A2C, DQN, SAC, TD3, QRDQN]


@pytest.mark.parametrize("agent", AGENTS, ids=lambda a: a.key)
def test_config_fields_are_sb3_arguments_with_sb3_defaults(agent):
    params = inspect.signature(agent.sb3_class().__init__).parameters
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
    from agents.sb3.tuned import LAB, zoo_file
    from lab.training import RUN_KEYS

    fields = {f.name for f in dataclasses.fields(agent.Config)} | set(RUN_KEYS) - {"algo", "env", "agent"}
    data, _lines, _defaults = zoo_file(agent.key)
    assert data, f"no zoo file shipped for {agent.key}"
    for env_id, entry in data.items():
        layer, _ignored = from_zoo(agent.Config, dict(entry))
        keys = set(layer) - {"agent"} | set(layer["agent"])
        assert keys <= fields, (env_id, keys - fields)
    for (algo, env_id), values in LAB.items():
        if algo == agent.key:
            assert set(values) <= fields, (env_id, set(values) - fields)


def test_shipped_zoo_files_are_rl_zoo3s_own(rl_zoo3_hyperparams):
    from agents.sb3.tuned import HYPERPARAMS_DIR

    for agent in AGENTS:
        ours = (HYPERPARAMS_DIR / f"{agent.key}.yml").read_text()
        assert ours == (rl_zoo3_hyperparams / f"{agent.key}.yml").read_text(), f"{agent.key}.yml differs from rl_zoo3's"


ATARI_IDS = ["ALE/Breakout-v5", "BreakoutNoFrameskip-v4", "ALE/Pong-v5", "PongNoFrameskip-v4", "ALE/Seaquest-v5"]
MUJOCO = ["Ant", "HalfCheetah", "Hopper", "Walker2d", "Humanoid", "Swimmer", "Reacher", "InvertedPendulum", "InvertedDoublePendulum"]


@pytest.mark.parametrize("agent", [PPO, A2C, DQN, QRDQN], ids=lambda a: a.key)
@pytest.mark.parametrize("env_id", ATARI_IDS)
def test_every_atari_id_gets_the_zoos_atari_entry(agent, env_id):
    values, sources = agent.tuned_with_sources(env_id)
    assert values["env_wrapper"] == ["stable_baselines3.common.atari_wrappers.AtariWrapper"]
    assert values["frame_stack"] == 4 and values["policy"] == "CnnPolicy" and values["steps"] == 10_000_000
    assert all(src.startswith(f"rl-zoo {agent.key}.yml:") and src.endswith("(atari)") for src in sources.values())


def test_the_zoos_atari_values_known_answers():
    ppo = PPO.tuned("ALE/Breakout-v5")
    assert {k: ppo[k] for k in ("n_envs", "n_steps", "n_epochs", "batch_size", "ent_coef", "vf_coef")} == {
        "n_envs": 8, "n_steps": 128, "n_epochs": 4, "batch_size": 256, "ent_coef": 0.01, "vf_coef": 0.5,
    }
    assert (ppo["learning_rate"], ppo["lr_schedule"], ppo["clip_range"], ppo["clip_range_schedule"]) == (
        2.5e-4, "linear", 0.1, "linear",
    )
    dqn = DQN.tuned("ALE/Pong-v5")
    assert (dqn["buffer_size"], dqn["learning_starts"], dqn["target_update_interval"], dqn["exploration_final_eps"]) == (
        100_000, 100_000, 1000, 0.01,
    )
    a2c = A2C.tuned("PongNoFrameskip-v4")
    assert a2c["n_envs"] == 16 and a2c["vf_coef"] == 0.25
    assert a2c["policy_kwargs"] == {
        "optimizer_class": "stable_baselines3.common.sb2_compat.rmsprop_tf_like:RMSpropTFLike",
        "optimizer_kwargs": {"eps": 1e-5},
    }
    qrdqn = QRDQN.tuned("ALE/Pong-v5")
    assert qrdqn["exploration_fraction"] == 0.025 and qrdqn["learning_starts"] == 50_000


@pytest.mark.parametrize("agent", [PPO, SAC, TD3], ids=lambda a: a.key)
@pytest.mark.parametrize("robot", MUJOCO)
def test_every_mujoco_robot_gets_a_zoo_entry(agent, robot):
    pytest.importorskip("mujoco")
    values, sources = agent.tuned_with_sources(f"{robot}-v5")
    zoo_sources = {s for k, s in sources.items() if k != "threads"}
    assert zoo_sources and all(s.startswith(f"rl-zoo {agent.key}.yml:") for s in zoo_sources), sources
    assert values["steps"] >= 1_000_000


def test_mujoco_v5_ids_use_the_zoos_older_entries_of_the_same_robot():
    pytest.importorskip("mujoco")
    _values, sources = PPO.tuned_with_sources("Reacher-v5")
    assert sources["n_steps"].endswith("(Reacher-v2)")
    values, sources = PPO.tuned_with_sources("HalfCheetah-v5")
    assert sources["learning_rate"].endswith("(HalfCheetah-v4)") and values["learning_rate"] == 2.0633e-05
    values, sources = SAC.tuned_with_sources("Reacher-v5")  # the zoo lists no SAC Reacher: its MuJoCo defaults
    assert sources["learning_starts"].endswith("(HalfCheetah-v4)") and values["learning_starts"] == 10_000
    assert sources["threads"] == "lab tuned"
    assert TD3.tuned("Humanoid-v5")["steps"] == 2_000_000


def test_lab_values_go_over_the_zoos_key_by_key():
    values, sources = SAC.tuned_with_sources("Pendulum-v1")
    assert values["net_arch"] == [64, 64] and sources["net_arch"] == "lab tuned"
    assert values["learning_rate"] == 1e-3 and sources["learning_rate"].startswith("rl-zoo sac.yml:")
    assert PPO.tuned("MyOwnEnv-v0") == {}


def test_tuned_defaults_of_an_env_family_apply_to_each_of_its_ids():
    from agents.sb3.tuned import LAB

    assert PPO.tuned("maze-9:file:levels.txt") == PPO.tuned("maze-13:procedural") == LAB[("ppo", "maze")]
    assert PPO.tuned_with_sources("maze-13:procedural")[1] == dict.fromkeys(LAB[("ppo", "maze")], "lab tuned")
    # an id of no lab family keeps its own entry (over the zoo's)
    assert LAB[("ppo", "CartPole-v1")].items() <= PPO.tuned("CartPole-v1").items()


def test_zoo_entry_translates_to_lab_keys_and_reports_the_rest():
    entry = {
        "n_timesteps": "!!float 5e4".split()[-1],
        "policy": "MlpPolicy",
        "learning_rate": "lin_0.001",
        "clip_range": "lin_0.2",
        "n_envs": 8,
        "normalize": "dict(norm_obs=True, norm_reward=False)".replace("dict(", "{'").replace("=", "': ").replace(", ", ", '").replace(")", "}"),
        "policy_kwargs": "dict(net_arch=[dict(pi=[64], vf=[64])], activation_fn=nn.ReLU, ortho_init=False, optimizer_class=MyOwnOptimizer)",
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
        "  policy_kwargs: \"dict(net_arch=[256, 256])\"\n  callback: my.Callback\n"
    )
    result = CliRunner().invoke(app, ["config", "dqn", "CartPole-v1", "--hyperparams", str(path)])
    assert result.exit_code == 0, result.output
    assert result.stderr.strip() == f"note: {path}:1: CartPole-v1: keys not understood, not used: callback"
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


def test_hyperparams_go_over_sb3s_defaults_not_the_labs_tuned_values(tmp_path):
    from lab.training import resolve_config

    (tmp_path / "dqn.yml").write_text("CartPole-v1:\n  n_timesteps: !!float 5e4\n  learning_rate: !!float 2.3e-3\n")
    sources: dict = {}
    cfg = resolve_config(algo="dqn", env="CartPole-v1", hyperparams=str(tmp_path / "dqn.yml"), sources=sources)
    assert cfg.agent.n_steps == 1 and cfg.agent.net_arch is None  # SB3's, not the lab's 3-step returns and [128, 128]
    assert cfg.agent.train_freq == 4 and cfg.agent.buffer_size == 1_000_000
    assert sources["agent.learning_rate"] == f"{tmp_path / 'dqn.yml'}:3 (CartPole-v1)"  # each key's own line
    assert sources["steps"] == f"{tmp_path / 'dqn.yml'}:2 (CartPole-v1)"
    assert sources["agent.n_steps"] == "default" and sources["algo"] == "command line"
    tuned: dict = {}
    cfg = resolve_config(algo="dqn", env="CartPole-v1", sets=["agent.gamma=0.9"], sources=tuned)
    assert cfg.agent.n_steps == 3 and tuned["agent.n_steps"] == "lab tuned"
    assert tuned["agent.gamma"] == "--set agent.gamma=0.9" and tuned["agent.tau"] == "default"


def test_lab_config_shows_the_zoos_atari_values_with_their_source():
    pytest.importorskip("ale_py")
    from typer.testing import CliRunner

    from lab.cli import app

    result = CliRunner().invoke(app, ["config", "ppo", "ALE/Breakout-v5"])
    assert result.exit_code == 0, result.output
    lines = {line.split(":")[0].strip(): line for line in result.stdout.splitlines() if not line.startswith("#")}
    for key, value in [("n_envs", "8"), ("n_steps", "128"), ("n_epochs", "4"), ("lr_schedule", "linear"),
                       ("clip_range_schedule", "linear"), ("learning_rate", "0.00025"), ("clip_range", "0.1")]:
        assert lines[key].strip().startswith(f"{key}: {value}  # [rl-zoo ppo.yml:6 (atari)]"), lines[key]
    assert "[default]" in lines["gae_lambda"]
