"""Hyperparameter dataclasses for the stable-baselines3 agents.

Field names equal the SB3 constructor arguments they feed (a test checks this and the defaults), except
the few lab fields listed in ``LAB_FIELDS``, which the agent translates (policy network, schedules,
normalization, vectorization, action noise).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from agents.sb3.selfplay.config import LeagueConfig

__all__ = [
    "SB3Config",
    "OnPolicyConfig",
    "PPOConfig",
    "A2CConfig",
    "OffPolicyConfig",
    "DQNConfig",
    "SACConfig",
    "TD3Config",
    "QRDQNConfig",
    "LAB_FIELDS",
]

Activation = Literal["tanh", "relu", "elu", "leaky_relu", "gelu", "silu"]
Schedule = Literal["constant", "linear"]


@dataclass
class SB3Config:
    """Settings shared by every stable-baselines3 agent."""

    policy: Literal["auto", "MlpPolicy", "CnnPolicy", "MultiInputPolicy"] = "auto"
    """SB3 policy class; auto: CnnPolicy for images, MultiInputPolicy for dict observations, else MlpPolicy."""
    n_envs: int = 1
    """Environments stepped together (in-process or in subprocesses: see vec)."""
    learning_rate: float = 3e-4
    """Optimizer learning rate (the start value when lr_schedule is linear)."""
    lr_schedule: Schedule = "constant"
    """constant, or linear decay of the learning rate to 0 over the run (the zoo's lin_<x>)."""
    gamma: float = 0.99
    """Discount factor."""
    net_arch: list[int] | dict[str, list[int]] | None = None
    """Hidden layer sizes, e.g. [64, 64], or separate ones: {pi: [...], vf: [...]}; null: SB3's default."""
    activation: Activation | None = None
    """Activation of the hidden layers; null: SB3's default (tanh on-policy, relu off-policy)."""
    policy_kwargs: dict[str, Any] = field(default_factory=dict)
    """Further keyword arguments for the SB3 policy (log_std_init, ortho_init, ...)."""
    normalize: bool = False
    """Normalize observations with running statistics (VecNormalize)."""
    normalize_reward: bool = False
    """Scale rewards by a running estimate of the return's spread (VecNormalize)."""
    frame_stack: int | None = None
    """Stack this many frames; null: 4 for Atari, none otherwise."""
    vec: Literal["auto", "dummy", "subproc", "envpool"] = "auto"
    """Environment workers: dummy (in-process), subproc (one process each), envpool (EnvPool's C++ Atari and
    MuJoCo environments: the envpool extra), auto (see agents/sb3/vec.py)."""
    eval_deterministic: bool = True
    """Evaluate with the policy's most likely action; false: sampled actions (mazes: a greedy policy that is
    not yet right repeats the same wall bump or loop until the episode ends)."""

    def __post_init__(self) -> None:
        if self.n_envs < 1:
            raise ValueError(f"n_envs: expected a positive number, got {self.n_envs}")
        if self.learning_rate <= 0:
            raise ValueError(f"learning_rate: expected a positive number, got {self.learning_rate}")
        if not 0.0 <= self.gamma <= 1.0:
            raise ValueError(f"gamma: expected a value in [0, 1], got {self.gamma}")
        for name in ("n_steps", "batch_size"):  # on- and off-policy agents both have some of these
            value = getattr(self, name, None)
            if value is not None and value < 1:
                raise ValueError(f"{name}: expected a positive number, got {value}")


@dataclass
class OnPolicyConfig(SB3Config):
    """Rollout-based agents (PPO, A2C)."""

    n_steps: int = 2048
    """Steps per environment per rollout (the rollout holds n_steps * n_envs transitions)."""
    gae_lambda: float = 0.95
    """GAE lambda (bias/variance trade-off of advantages)."""
    ent_coef: float = 0.0
    """Entropy bonus coefficient."""
    vf_coef: float = 0.5
    """Value loss coefficient."""
    max_grad_norm: float = 0.5
    """Gradient clipping norm."""
    use_sde: bool = False
    """State-dependent exploration (continuous actions)."""
    sde_sample_freq: int = -1
    """Resample the SDE noise every n steps; -1: once per rollout."""
    normalize_advantage: bool = True
    """Normalize advantages per batch."""


@dataclass
class PPOConfig(OnPolicyConfig):
    """Proximal Policy Optimization."""

    batch_size: int = 64
    """Minibatch size."""
    n_epochs: int = 10
    """Passes over each rollout."""
    clip_range: float = 0.2
    """Policy clipping range (the start value when clip_range_schedule is linear)."""
    clip_range_schedule: Schedule = "constant"
    """constant, or linear decay of clip_range to 0 over the run."""
    target_kl: float | None = None
    """Stop a rollout's epochs early when the KL divergence exceeds this; null: never."""
    league: LeagueConfig = field(default_factory=LeagueConfig)
    """Board games only (`lab train ppo tictactoe`): self-play against a pool of the learner's snapshots."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.batch_size == 1:  # SB3 normalizes advantages over the minibatch
            raise ValueError("batch_size: expected at least 2, got 1")


@dataclass
class A2CConfig(OnPolicyConfig):
    """Advantage Actor-Critic."""

    learning_rate: float = 7e-4
    """Optimizer learning rate (the start value when lr_schedule is linear)."""
    n_steps: int = 5
    """Steps per environment per update."""
    gae_lambda: float = 1.0
    """GAE lambda (1.0: plain n-step returns)."""
    use_rms_prop: bool = True
    """RMSprop (as in the paper) instead of Adam."""
    rms_prop_eps: float = 1e-5
    """RMSprop epsilon."""
    normalize_advantage: bool = False
    """Normalize advantages per batch."""


@dataclass
class OffPolicyConfig(SB3Config):
    """Replay-buffer agents (DQN, SAC, TD3)."""

    buffer_size: int = 1_000_000
    """Replay buffer capacity (transitions)."""
    learning_starts: int = 100
    """Steps of experience collected before learning starts."""
    batch_size: int = 256
    """Minibatch size."""
    tau: float = 0.005
    """Soft update coefficient of the target networks (1.0: hard copy)."""
    train_freq: int = 1
    """Update the model every train_freq steps (per environment)."""
    gradient_steps: int = 1
    """Gradient steps per update; -1: as many as environment steps collected."""
    n_steps: int = 1
    """Steps of the n-step return the TD targets bootstrap from (1: one-step TD)."""
    optimize_memory_usage: bool = False
    """Store each observation once (next observations are read from the following slot): half the buffer memory."""


    def __post_init__(self) -> None:
        super().__post_init__()
        if self.optimize_memory_usage and self.n_steps > 1:
            raise ValueError("optimize_memory_usage: SB3's n-step replay buffer does not support it; set n_steps=1")


@dataclass
class DQNConfig(OffPolicyConfig):
    """Deep Q-Network."""

    learning_rate: float = 1e-4
    """Optimizer learning rate (the start value when lr_schedule is linear)."""
    learning_starts: int = 100
    """Steps of experience collected before learning starts."""
    batch_size: int = 32
    """Minibatch size."""
    tau: float = 1.0
    """Target network update coefficient (1.0: hard copy)."""
    train_freq: int = 4
    """Update the model every train_freq steps (per environment)."""
    target_update_interval: int = 10_000
    """Environment steps between target network updates."""
    exploration_fraction: float = 0.1
    """Fraction of the run over which epsilon decays."""
    exploration_initial_eps: float = 1.0
    """Initial epsilon of epsilon-greedy exploration."""
    exploration_final_eps: float = 0.05
    """Final epsilon."""
    max_grad_norm: float = 10.0
    """Gradient clipping norm."""


@dataclass
class _ContinuousOffPolicyConfig(OffPolicyConfig):
    action_noise: Literal["none", "normal", "ornstein-uhlenbeck"] = "none"
    """Exploration noise added to actions."""
    action_noise_std: float = 0.1
    """Standard deviation of the action noise, relative to the action range."""


@dataclass
class SACConfig(_ContinuousOffPolicyConfig):
    """Soft Actor-Critic."""

    ent_coef: float | Literal["auto"] = "auto"
    """Entropy coefficient; auto: learned (starting at 1.0)."""
    target_update_interval: int = 1
    """Gradient steps between target network updates."""
    target_entropy: float | Literal["auto"] = "auto"
    """Target entropy for a learned ent_coef; auto: -dim(action space)."""
    use_sde: bool = False
    """State-dependent exploration."""
    sde_sample_freq: int = -1
    """Resample the SDE noise every n steps; -1: only at the start of a rollout."""


@dataclass
class TD3Config(_ContinuousOffPolicyConfig):
    """Twin Delayed DDPG."""

    learning_rate: float = 1e-3
    """Optimizer learning rate (the start value when lr_schedule is linear)."""
    policy_delay: int = 2
    """Critic updates per actor (and target) update."""
    target_policy_noise: float = 0.2
    """Std of the smoothing noise added to target actions."""
    target_noise_clip: float = 0.5
    """Clip of the target smoothing noise."""


@dataclass
class QRDQNConfig(OffPolicyConfig):
    """Quantile Regression DQN (sb3-contrib)."""

    learning_rate: float = 5e-5
    """Optimizer learning rate (the start value when lr_schedule is linear)."""
    batch_size: int = 32
    """Minibatch size."""
    tau: float = 1.0
    """Target network update coefficient (1.0: hard copy)."""
    train_freq: int = 4
    """Update the model every train_freq steps (per environment)."""
    target_update_interval: int = 10_000
    """Environment steps between target network updates."""
    exploration_fraction: float = 0.005
    """Fraction of the run over which epsilon decays."""
    exploration_initial_eps: float = 1.0
    """Initial epsilon of epsilon-greedy exploration."""
    exploration_final_eps: float = 0.01
    """Final epsilon."""
    max_grad_norm: float | None = None
    """Gradient clipping norm; null: no clipping."""


LAB_FIELDS = frozenset(
    {
        "policy",
        "n_envs",
        "lr_schedule",
        "net_arch",
        "activation",
        "policy_kwargs",
        "normalize",
        "normalize_reward",
        "frame_stack",
        "eval_deterministic",
        "clip_range_schedule",
        "action_noise",
        "action_noise_std",
        "vec",
        "league",
    }
)
"""Config fields the agent translates; all others are passed to the SB3 constructor as they are."""
