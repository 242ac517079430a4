"""``--hyperparams`` of the zoo's own file gives exactly what rl_zoo3 passes to stable-baselines3.

Both sides build their SB3 algorithm with a stand-in class that records the constructor arguments
(no model is built): rl_zoo3's ``ExperimentManager.setup_experiment`` and the lab's agent for the
config ``resolve_config(hyperparams=<rl_zoo3's file>)`` gives. The arguments are compared key by key
after filling in SB3's defaults on both sides (schedules compared by their values along the run),
and so are the environments (count, VecNormalize, frame stack, observation space, wrappers).
"""

from __future__ import annotations

import argparse
import inspect
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from agents.sb3 import SB3Agent
from lab.registry import AGENTS
from lab.training import config_env, resolve_config

CASES = [
    ("ppo", "CartPole-v1"),
    ("dqn", "CartPole-v1"),
    ("a2c", "CartPole-v1"),
    ("sac", "Pendulum-v1"),
    ("td3", "Pendulum-v1"),
    ("a2c", "Pendulum-v1"),  # normalize, SDE, linear schedule, policy_kwargs
    ("ppo", "BreakoutNoFrameskip-v4"),  # the file's atari entry
    ("dqn", "PongNoFrameskip-v4"),
    ("qrdqn", "BreakoutNoFrameskip-v4"),
]
_NOT_HYPERPARAMETERS = {"self", "env", "tensorboard_log", "verbose", "device", "seed", "_init_setup_model"}


class _Recorder:
    """Stands in for an SB3 class: records the bound constructor arguments."""

    def __init__(self, real: type, calls: list) -> None:
        self.real, self.calls = real, calls

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        bound = inspect.signature(self.real.__init__).bind(None, *args, **kwargs)
        bound.apply_defaults()
        self.calls.append(dict(bound.arguments))
        return SimpleNamespace(set_logger=lambda _logger: None)


_SCHEDULES = ("learning_rate", "clip_range", "clip_range_vf")


def _schedule(v: Any) -> Any:
    """A schedule (or a constant) as its values along the run."""
    if v is None:
        return None
    return [round(float(v(p) if callable(v) else v), 12) for p in (1.0, 0.75, 0.5, 0.0)]


def _value(v: Any) -> Any:
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return float(v)
    if isinstance(v, tuple):
        return list(v)
    if hasattr(v, "_mu") and hasattr(v, "_sigma"):  # action noise
        return (type(v).__name__, np.asarray(v._mu).tolist(), np.asarray(v._sigma).tolist())
    if isinstance(v, dict):
        return {k: _value(x) for k, x in v.items()}
    return v


def _hyperparameters(args: dict[str, Any]) -> dict[str, Any]:
    out = {k: _schedule(v) if k in _SCHEDULES else _value(v) for k, v in args.items() if k not in _NOT_HYPERPARAMETERS}
    for key in ("policy_kwargs", "replay_buffer_kwargs"):
        out[key] = out.get(key) or {}
    return out


def _vec_chain(venv: Any) -> dict[str, Any]:
    from stable_baselines3.common.vec_env import VecFrameStack, VecNormalize, VecTransposeImage

    facts: dict[str, Any] = {"num_envs": venv.num_envs}
    while hasattr(venv, "venv"):
        if isinstance(venv, VecNormalize):
            facts["normalize"] = (venv.norm_obs, venv.norm_reward, venv.gamma)
        elif isinstance(venv, VecFrameStack):
            facts["frame_stack"] = venv.stacked_obs.n_stack
        elif not isinstance(venv, VecTransposeImage):  # SB3 adds it itself when the lab does not
            facts.setdefault("others", []).append(type(venv).__name__)
        if not isinstance(venv, VecTransposeImage):
            facts.setdefault("obs_shape", venv.observation_space.shape)
        venv = venv.venv
    facts.setdefault("obs_shape", venv.observation_space.shape)
    env = venv.envs[0]
    names = []
    while hasattr(env, "env"):
        names.append(type(env).__name__)
        env = env.env
    facts["wrappers"] = names
    return facts


@pytest.fixture(scope="module")
def exp_manager():
    """rl_zoo3's ExperimentManager module; rl_zoo3's import-time patches (gymnasium's TimeLimit,
    ``np.bool8``) are undone after this module so they cannot change what other tests see."""
    import gymnasium

    missing = object()
    owners = (gymnasium.wrappers, gymnasium.wrappers.common, gymnasium.envs.registration)
    saved = {owner: owner.__dict__.get("TimeLimit", missing) for owner in owners}
    had_bool8 = "bool8" in np.__dict__
    pytest.importorskip("rl_zoo3")
    from rl_zoo3 import exp_manager as module

    yield module
    for owner, value in saved.items():
        if value is missing:
            owner.__dict__.pop("TimeLimit", None)
        else:
            owner.TimeLimit = value
    if not had_bool8 and "bool8" in np.__dict__:
        delattr(np, "bool8")


def _zoo_files(exp_manager) -> Path:
    return Path(exp_manager.__file__).parent / "hyperparams"


def _zoo_side(exp_manager, algo: str, env_id: str, tmp_path: Path, monkeypatch) -> tuple[dict, dict, int]:
    calls: list = []
    real = exp_manager.ALGOS[algo]
    monkeypatch.setitem(exp_manager.ALGOS, algo, _Recorder(real, calls))
    manager = exp_manager.ExperimentManager(
        argparse.Namespace(), algo, env_id, str(tmp_path / "zoo"), eval_freq=-1, seed=0, verbose=0,
        config=str(_zoo_files(exp_manager) / f"{algo}.yml"),
    )
    manager.setup_experiment()
    args = calls[0]
    facts = _vec_chain(args["env"])
    args["env"].close()
    return _hyperparameters(args), facts, manager.n_timesteps


def _lab_side(zoo_files: Path, algo: str, env_id: str, monkeypatch) -> tuple[dict, dict, int]:
    cfg = resolve_config(algo=algo, env=env_id, hyperparams=str(zoo_files / f"{algo}.yml"))
    agent_cls = AGENTS.load(algo)
    calls: list = []
    real = agent_cls.sb3_class()
    monkeypatch.setattr(agent_cls, "sb3_class", classmethod(lambda cls: _Recorder(real, calls)))
    monkeypatch.setattr("agents.sb3.memory.available_bytes", lambda: 10**14)  # QR-DQN's 1M Atari frames: 56 GB
    agent = agent_cls(cfg.agent, config_env(cfg), seed=0, device="cpu")
    args = calls[0]
    facts = _vec_chain(agent.venv)
    agent.venv.close()
    return _hyperparameters(args), facts, cfg.steps


@pytest.mark.parametrize(("algo", "env_id"), CASES, ids=[f"{a}-{e}" for a, e in CASES])
def test_hyperparams_file_gives_what_rl_zoo3_passes_to_sb3(exp_manager, algo, env_id, tmp_path, monkeypatch):
    if "NoFrameskip" in env_id:
        pytest.importorskip("ale_py")
    assert issubclass(AGENTS.load(algo), SB3Agent)
    zoo_kwargs, zoo_env, zoo_steps = _zoo_side(exp_manager, algo, env_id, tmp_path, monkeypatch)
    lab_kwargs, lab_env, lab_steps = _lab_side(_zoo_files(exp_manager), algo, env_id, monkeypatch)
    assert lab_steps == zoo_steps
    assert sorted(lab_kwargs) == sorted(zoo_kwargs)
    for key in zoo_kwargs:
        assert lab_kwargs[key] == zoo_kwargs[key], f"{algo} {env_id}: {key}: lab {lab_kwargs[key]!r}, rl_zoo3 {zoo_kwargs[key]!r}"
    assert lab_env == zoo_env
