"""One agent class for every stable-baselines3 (and sb3-contrib) algorithm; each is a few class attributes."""

from __future__ import annotations

import dataclasses
import importlib
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn as nn
from gymnasium import spaces
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.evaluation import evaluate_policy
from stable_baselines3.common.logger import Logger
from stable_baselines3.common.noise import NormalActionNoise, OrnsteinUhlenbeckActionNoise
from stable_baselines3.common.preprocessing import is_image_space
from stable_baselines3.common.utils import LinearSchedule
from stable_baselines3.common.vec_env import (
    DummyVecEnv,
    SubprocVecEnv,
    VecEnv,
    VecFrameStack,
    VecNormalize,
    sync_envs_normalization,
)

from agents.sb3 import zoo
from agents.sb3.callback import BusWriter, EventCallback
from agents.sb3.config import (
    LAB_FIELDS,
    A2CConfig,
    DQNConfig,
    OffPolicyConfig,
    OnPolicyConfig,
    PPOConfig,
    QRDQNConfig,
    SACConfig,
    SB3Config,
    TD3Config,
)
from agents.sb3.memory import check_replay_buffer
from agents.sb3.state import load_model_state, model_state
from agents.sb3.tuned import tuned_with_sources
from agents.sb3.vec import choose_vec
from lab.agent import Budget, TrainContext
from lab.envs import EnvInfo
from lab.errors import ConfigError, LabError
from lab.limits import available_memory, gib
from lab.registry import load_target

__all__ = ["SB3Agent", "PPO", "A2C", "DQN", "SAC", "TD3", "QRDQN"]

_ACTIVATIONS = {"tanh": nn.Tanh, "relu": nn.ReLU, "elu": nn.ELU, "leaky_relu": nn.LeakyReLU, "gelu": nn.GELU, "silu": nn.SiLU}
_SPACE_WORDS = {
    spaces.Discrete: "discrete (Discrete)",
    spaces.Box: "continuous (Box)",
    spaces.MultiDiscrete: "MultiDiscrete",
    spaces.MultiBinary: "MultiBinary",
}
_OBS_SPACES = (spaces.Box, spaces.Discrete, spaces.MultiDiscrete, spaces.MultiBinary, spaces.Dict)


_ENV_BYTES = 64 * 1024
"""A rough upper bound of one in-process environment with its wrappers (a CartPole with Monitor is ~20 KiB)."""


def check_memory(cfg: SB3Config, env: EnvInfo) -> None:
    """Refuse an ``n_envs`` whose environments and rollout would not fit in the available memory.

    Raises:
        ConfigError: ``n_envs 100,000,000: about 6,000 GiB ... at most 1,234,567 fit``.
    """
    available = available_memory()
    if available is None:
        return
    obs = env.observation_space
    obs_bytes = 4 * int(np.prod(obs.shape)) if getattr(obs, "shape", None) else 64
    per_step = obs_bytes + 64  # observation, action, reward, value, log-prob, advantage, return, start flag
    per_env = _ENV_BYTES + obs_bytes * (cfg.frame_stack or 1) + getattr(cfg, "n_steps", 1) * per_step
    need = cfg.n_envs * per_env
    if need > 0.8 * available:
        fit = int(0.8 * available // per_env)
        raise ConfigError(
            f"n_envs {cfg.n_envs:,}: the environments and their rollout need about {gib(need)}, more than the "
            f"{gib(available)} of memory available; at most {fit:,} environments fit"
        )


def _schedule(value: float, kind: str) -> Any:
    # zoo "lin_<x>": x * progress_remaining, i.e. linear from x to 0 over the run
    return LinearSchedule(value, 0.0, 1.0) if kind == "linear" else value


class SB3Agent:
    """A stable-baselines3 algorithm driven by the lab (subclasses name the algorithm)."""

    key: ClassVar[str]
    """Registered name, used to look up tuned values."""
    algorithm: ClassVar[str]
    """Class name in :attr:`library`."""
    library: ClassVar[str] = "stable_baselines3"
    """The package holding the algorithm (``sb3_contrib`` for QR-DQN)."""
    Config: ClassVar[type[SB3Config]]
    action_spaces: ClassVar[tuple[type[spaces.Space], ...]]
    default_threads: ClassVar[int] = 1
    """Torch threads when the config says none: a second thread does not speed up small MLPs."""
    default_steps: ClassVar[int] = 100_000
    resume_differs: ClassVar[str] = (
        "weights, optimizer, step and update counters, schedules, VecNormalize statistics and the replay buffer "
        "continue; the environments start new episodes and the random generators are reseeded from the run's "
        "seed, so the rest of the run does not retrace the uninterrupted one step for step"
    )
    """What ``lab train --resume`` prints: SB3 keeps environment and sampler state out of its checkpoints (the
    environments' internal state is not generally savable), so a resumed run is a different sample of the same
    training, not a replay of it."""

    # --- class-level contract --------------------------------------------------------------
    @classmethod
    def supports(cls, env: EnvInfo) -> str | None:
        if env.kind != "gym":
            return f"{env.id} is a two-player board game and {cls.key} trains single-agent Gymnasium environments"
        if not isinstance(env.action_space, cls.action_spaces):
            wanted = " or ".join(_SPACE_WORDS.get(s, s.__name__) for s in cls.action_spaces)
            return f"it needs {wanted} actions, and {env.id}'s action space is {env.action_space}"
        if not isinstance(env.observation_space, _OBS_SPACES):
            return f"stable-baselines3 does not handle {type(env.observation_space).__name__} observations"
        if isinstance(env.observation_space, spaces.Dict):
            for name, sub in env.observation_space.spaces.items():
                if not isinstance(sub, _OBS_SPACES[:-1]):
                    return (
                        f"stable-baselines3 does not handle its {type(sub).__name__} observation {name!r}: "
                        "add a wrapper that removes or flattens it (env_wrapper, e.g. minigrid.wrappers.FlatObsWrapper)"
                    )
        return None

    @classmethod
    def tuned(cls, env_id: str) -> dict[str, Any]:
        return tuned_with_sources(cls.key, env_id, cls.Config)[0]

    @classmethod
    def tuned_with_sources(cls, env_id: str) -> tuple[dict[str, Any], dict[str, str]]:
        """The tuned values and, per key, where each came from (the zoo's file and line, or the lab)."""
        return tuned_with_sources(cls.key, env_id, cls.Config)

    @classmethod
    def sb3_class(cls) -> type:
        return getattr(importlib.import_module(cls.library), cls.algorithm)

    @classmethod
    def from_zoo(cls, entry: dict[str, Any], where: str = "") -> tuple[dict[str, Any], list[str]]:
        """Translate an rl-baselines3-zoo hyperparameter entry (see :mod:`agents.sb3.zoo`)."""
        return zoo.from_zoo(cls.Config, entry, where)

    @classmethod
    def check_budget(cls, cfg: SB3Config, steps: int | None) -> str | None:
        """Why ``steps`` makes no update with ``cfg`` (None when it makes some).

        Training stops exactly at the budget (:class:`agents.sb3.callback.EventCallback`), before the
        update of a rollout that reaches it: on-policy agents update after each rollout of
        ``n_steps * n_envs`` steps, off-policy ones after the first ``train_freq * n_envs`` chunk past
        ``learning_starts``.
        """
        total = steps or cls.default_steps
        if isinstance(cfg, OnPolicyConfig):
            rollout = cfg.n_steps * cfg.n_envs
            if total <= rollout:
                return (f"steps {total:,}: {cls.key} updates after each rollout of n_steps x n_envs = "
                        f"{cfg.n_steps} x {cfg.n_envs} = {rollout:,} steps, so this budget makes no update; "
                        f"give more than {rollout:,} steps or a smaller n_steps or n_envs")
        elif isinstance(cfg, OffPolicyConfig):
            freq = cfg.train_freq[0] if isinstance(cfg.train_freq, (list, tuple)) else cfg.train_freq
            chunk = max(1, int(freq)) * cfg.n_envs
            first = (cfg.learning_starts // chunk + 1) * chunk
            if total <= first:
                return (f"steps {total:,}: {cls.key} makes its first update after learning_starts = "
                        f"{cfg.learning_starts:,} steps (at step {first:,}, in chunks of train_freq x n_envs = "
                        f"{chunk:,}), so this budget makes no update; give more than {first:,} steps or a "
                        "smaller learning_starts")
        return None

    # --- construction ----------------------------------------------------------------------
    def __init__(self, cfg: SB3Config, env: EnvInfo, *, seed: int, device: str) -> None:
        check_memory(cfg, env)
        self.cfg = cfg
        self.env = env
        self.seed = seed
        self.device = device
        self.venv = self.make_vec_env(cfg.n_envs, seed)
        if hasattr(cfg, "buffer_size"):  # before SB3 allocates it
            try:
                check_replay_buffer(self.key, cfg, self.venv.observation_space, self.venv.action_space)
            except BaseException:
                self.venv.close()
                raise
        self._writer = BusWriter()
        self.model = self.sb3_class()(self.sb3_policy(), self.venv, seed=seed, device=device, verbose=0, **self.sb3_kwargs())
        self.model.set_logger(Logger(folder=None, output_formats=[self._writer]))

    def sb3_policy(self) -> str:
        """The SB3 policy class name: the configured one, or the one that fits the observations."""
        if self.cfg.policy != "auto":
            return self.cfg.policy
        obs = self.venv.observation_space
        if isinstance(obs, spaces.Dict):
            return "MultiInputPolicy"
        if self.env.atari or is_image_space(obs, check_channels=False):
            return "CnnPolicy"
        return "MlpPolicy"

    def sb3_kwargs(self) -> dict[str, Any]:
        """Constructor arguments for the SB3 algorithm, translated from the config."""
        cfg = self.cfg
        kwargs = {f.name: getattr(cfg, f.name) for f in dataclasses.fields(cfg) if f.name not in LAB_FIELDS}
        kwargs["learning_rate"] = _schedule(cfg.learning_rate, cfg.lr_schedule)
        if "clip_range" in kwargs:
            kwargs["clip_range"] = _schedule(cfg.clip_range, cfg.clip_range_schedule)
        policy_kwargs = {  # "module:Class" strings (optimizer_class, ...) name classes
            k: load_target(v) if k.endswith("_class") and isinstance(v, str) else v for k, v in cfg.policy_kwargs.items()
        }
        if getattr(cfg, "optimize_memory_usage", False):  # SB3 cannot store timeouts with one copy per observation
            kwargs["replay_buffer_kwargs"] = {"handle_timeout_termination": False}
        if cfg.net_arch is not None:
            policy_kwargs["net_arch"] = cfg.net_arch
        if cfg.activation is not None:
            policy_kwargs["activation_fn"] = _ACTIVATIONS[cfg.activation]
        if policy_kwargs:
            kwargs["policy_kwargs"] = policy_kwargs
        noise = getattr(cfg, "action_noise", "none")
        if noise != "none":
            n = self.venv.action_space.shape[-1]
            noise_cls = NormalActionNoise if noise == "normal" else OrnsteinUhlenbeckActionNoise
            kwargs["action_noise"] = noise_cls(np.zeros(n), cfg.action_noise_std * np.ones(n))
        return kwargs

    def make_vec_env(self, n_envs: int, seed: int, *, training: bool = True, render_mode: str | None = None) -> VecEnv:
        """``n_envs`` environments with Monitor, the env's wrappers (Atari's included), frame stack, VecNormalize."""
        env_kwargs = {"render_mode": render_mode} if render_mode else None
        vec = choose_vec(self.cfg.vec, self.env, n_envs) if training else "dummy"
        factory = self.env.factory if training or self.env.eval_factory is None else self.env.eval_factory
        stack = self.cfg.frame_stack if self.cfg.frame_stack is not None else (4 if self.env.atari else 1)
        venv: VecEnv
        if vec == "envpool":  # C++ environments; evaluation episodes stay in-process (training=False: dummy)
            from agents.sb3.envpool_vec import EnvPoolVecEnv, envpool_task

            task, kwargs = envpool_task(self.env)
            if self.env.atari:
                kwargs["stack_num"] = stack  # EnvPool stacks the frames itself
            elif stack > 1:
                raise LabError(f"--vec envpool: frame_stack {stack} applies to Atari ids only; use --vec dummy")
            venv, stack = EnvPoolVecEnv(task, n_envs, seed, **kwargs), 1
        elif self.env.vec_factory is not None and factory is self.env.factory and not self.env.wrappers:
            venv = self.env.vec_factory(n_envs, seed)  # the env steps its whole batch at once (world:RUN_DIR)
        else:
            venv = make_vec_env(
                factory,
                n_envs=n_envs,
                seed=seed,
                env_kwargs=env_kwargs,
                wrapper_class=self.env.wrap if self.env.wrappers else None,
                vec_env_cls=SubprocVecEnv if vec == "subproc" else DummyVecEnv,
            )
        if stack > 1:
            venv = VecFrameStack(venv, stack)
        if self.cfg.normalize or self.cfg.normalize_reward:
            venv = VecNormalize(
                venv,
                training=training,
                norm_obs=self.cfg.normalize,
                norm_reward=self.cfg.normalize_reward and training,
                gamma=self.cfg.gamma,
            )
            if not training:
                sync_envs_normalization(self.venv, venv)
        return venv

    # --- training --------------------------------------------------------------------------
    @property
    def step(self) -> int:
        return int(self.model.num_timesteps)

    @property
    def updates(self) -> int:
        """SB3's gradient-step counter (PPO: epochs x rollouts; DQN, SAC: gradient steps)."""
        return int(self.model._n_updates)  # noqa: SLF001 - SB3 keeps no public counter; checkpointed in state.py

    def budget(self, steps: int | None) -> Budget:
        return Budget(float(steps or self.default_steps), "steps")

    def learn(self, ctx: TrainContext, steps: int | None) -> None:
        total = int(self.budget(steps).total)
        remaining = total - self.step
        if remaining <= 0:
            return
        self._writer.bus = ctx.bus
        try:
            self.model.learn(
                total_timesteps=remaining,
                callback=EventCallback(self, ctx, total),
                reset_num_timesteps=self.step == 0,
                progress_bar=False,
            )
        finally:
            self._writer.bus = None

    def state_dict(self, *, full: bool = True) -> dict[str, Any]:
        return model_state(self.model, self.venv, full=full)

    def load_state_dict(self, state: dict[str, Any]) -> None:
        load_model_state(self.model, self.venv, state)

    # --- evaluation ------------------------------------------------------------------------
    def evaluate(self, episodes: int, *, seed: int) -> list[float]:
        """Returns of ``episodes`` episodes, run on up to 8 environments at once (see ``evaluate_episodes``)."""
        return self.evaluate_episodes(episodes, seed=seed)[0]

    def evaluate_episodes(self, episodes: int, *, seed: int) -> tuple[list[float], list[int]]:
        """Returns and lengths of ``episodes`` episodes (greedy unless ``eval_deterministic`` is false), run on up
        to 8 environments at once; sampled actions are seeded too, so the same seed gives the same episodes."""
        venv = self.make_vec_env(min(episodes, 8), seed, training=False)
        # sampled actions draw from torch's global generator: seed a fork of it, so training's stream is untouched
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            try:
                returns, lengths = evaluate_policy(
                    self.model, venv, n_eval_episodes=episodes, deterministic=self.cfg.eval_deterministic,
                    return_episode_rewards=True, warn=False,
                )
            finally:
                venv.close()
        return [float(r) for r in returns], [int(n) for n in lengths]

    def act(self, obs: Any) -> Any:
        """The deterministic action for one (unbatched) observation: a trained player for rollouts data sets."""
        action, _ = self.model.predict(obs, deterministic=True)
        return action

    def render_episode(self, *, seed: int, max_frames: int = 2000) -> tuple[list[np.ndarray], float]:
        """Frames (RGB arrays) of one deterministic episode and its return."""
        venv = self.make_vec_env(1, seed, training=False, render_mode="rgb_array")
        try:
            obs = venv.reset()
            frames = [venv.render()]
            total = 0.0
            while len(frames) < max_frames:
                action, _ = self.model.predict(obs, deterministic=True)
                obs, _reward, _done, infos = venv.step(action)
                episode = infos[0].get("episode")
                if episode is not None:  # Monitor's record: the true episode end and return
                    total = float(episode["r"])
                    break
                frames.append(venv.render())
        finally:
            venv.close()
        return [f for f in frames if f is not None], total


class PPO(SB3Agent):
    """Proximal Policy Optimization (stable-baselines3); discrete or continuous actions. On a two-player board
    game: MaskablePPO (sb3-contrib) by self-play against a league (``agents.sb3.selfplay``)."""

    key, algorithm, Config = "ppo", "PPO", PPOConfig
    action_spaces = (spaces.Discrete, spaces.Box, spaces.MultiDiscrete, spaces.MultiBinary)

    def __new__(cls, cfg: Any = None, env: EnvInfo | None = None, **kwargs: Any) -> PPO:
        if cls is PPO and env is not None and env.kind == "game":  # the board-game form of the same agent
            from agents.sb3.selfplay.agent import SelfPlayPPO

            return super().__new__(SelfPlayPPO)
        return super().__new__(cls)

    @classmethod
    def supports(cls, env: EnvInfo) -> str | None:
        if env.kind == "game":
            from agents.sb3.selfplay.agent import game_support

            return game_support(env.factory)
        return super().supports(env)


class A2C(SB3Agent):
    """Advantage Actor-Critic (stable-baselines3); discrete or continuous actions."""

    key, algorithm, Config = "a2c", "A2C", A2CConfig
    action_spaces = (spaces.Discrete, spaces.Box, spaces.MultiDiscrete, spaces.MultiBinary)


class DQN(SB3Agent):
    """Deep Q-Network (stable-baselines3); discrete actions."""

    key, algorithm, Config = "dqn", "DQN", DQNConfig
    action_spaces = (spaces.Discrete,)


class SAC(SB3Agent):
    """Soft Actor-Critic (stable-baselines3); continuous actions."""

    key, algorithm, Config = "sac", "SAC", SACConfig
    action_spaces = (spaces.Box,)


class TD3(SB3Agent):
    """Twin Delayed DDPG (stable-baselines3); continuous actions."""

    key, algorithm, Config = "td3", "TD3", TD3Config
    action_spaces = (spaces.Box,)


class QRDQN(SB3Agent):
    """Quantile Regression DQN (sb3-contrib); discrete actions."""

    key, algorithm, library, Config = "qrdqn", "QRDQN", "sb3_contrib", QRDQNConfig
    action_spaces = (spaces.Discrete,)
