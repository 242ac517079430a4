"""--tensorboard writes SB3's scalars under RUN/tb/; --vec picks the environment workers."""

from __future__ import annotations

import sys

import pytest
from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv

from lab.errors import MissingDependencyError
from lab.training import config_env, resolve_config, train

TINY_PPO = ["steps=256", "agent.n_steps=64", "agent.batch_size=64", "agent.n_epochs=1", "agent.n_envs=2"]


def test_tensorboard_writes_rollout_train_and_eval_scalars(tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    sets = [*TINY_PPO, "steps=384"]  # SB3 dumps a rollout's train/* at the start of the next one
    cfg = resolve_config(algo="ppo", env="CartPole-v1", sets=sets, flags={"track": False, "tensorboard": True, "eval_episodes": 2})
    train(cfg, run_dir=tmp_path / "r", display=False)
    acc = EventAccumulator(str(tmp_path / "r" / "tb"))
    acc.Reload()
    tags = set(acc.Tags()["scalars"])
    assert {"rollout/ep_rew_mean", "train/loss", "train/entropy_loss", "eval/mean_reward", "eval/std_reward"} <= tags
    assert acc.Scalars("eval/mean_reward")[-1].step == 384


def test_tensorboard_missing_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)
    cfg = resolve_config(algo="ppo", env="CartPole-v1", sets=TINY_PPO, flags={"track": False, "tensorboard": True})
    with pytest.raises(MissingDependencyError, match=r"^--tensorboard needs the tensorboard package: pip install tensorboard"):
        train(cfg, run_dir=tmp_path / "r", display=False)
    assert not (tmp_path / "r").exists()


def test_vec_auto_keeps_light_envs_in_process_and_subproc_is_honoured():
    from agents.sb3 import PPO
    from agents.sb3 import vec as vec_module
    from agents.sb3.vec import choose_vec

    cfg = resolve_config(algo="ppo", env="CartPole-v1", sets=[*TINY_PPO, "agent.vec=subproc"])
    agent = PPO(cfg.agent, config_env(cfg), seed=0, device="cpu")
    try:
        assert isinstance(agent.venv, SubprocVecEnv)
    finally:
        agent.venv.close()
    cartpole = config_env(cfg)
    assert choose_vec("auto", cartpole, 8) == "dummy"
    assert choose_vec("dummy", cartpole, 8) == "dummy"
    pytest.importorskip("ale_py")
    from lab.envs import resolve_env

    breakout = resolve_env("ALE/Breakout-v5")
    original = vec_module.usable_cpus
    try:
        vec_module.usable_cpus = lambda: 16
        assert choose_vec("auto", breakout, 8) == "subproc" and choose_vec("auto", breakout, 2) == "dummy"
        vec_module.usable_cpus = lambda: 2
        assert choose_vec("auto", breakout, 8) == "dummy"
    finally:
        vec_module.usable_cpus = original
    assert DummyVecEnv  # the other choice
