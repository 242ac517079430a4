"""Real transitions (observation, action, reward, next observation, termination) of a Gymnasium environment with
vector observations, collected by random play, a trained run's policy or a mix, cached in the lab's data folder,
and split by episode into a training and a held-out part (held-out trajectories score open-loop prediction).

A data set is ``rollouts:ENV_ID`` with a :class:`TransitionsConfig`; ``policy`` may name several players joined
by ``,`` (``random,runs/ppo-1``): each collects its own ``steps`` with its own seed and cache file, so the loop of
``lab dream`` re-collects nothing it already has and counts every real step exactly once.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from lab import atomic
from lab.errors import ConfigError, LabError

__all__ = ["TransitionsConfig", "Transitions", "load_transitions", "collect_source", "encode_actions",
           "action_width", "vector_space_problem", "grid_space_problem"]


@dataclass
class TransitionsConfig:
    """Which real transitions a world model learns from."""

    policy: str = "random"
    """Who plays: `random`, a trained run folder, or several joined by `,` (each collects `steps`)."""
    random_share: float = 0.0
    """Mix: the share of actions taken uniformly at random when a run folder plays (ε-greedy exploration)."""
    steps: int = 5000
    """Real environment steps each player collects (whole episodes, the last one cut at this count)."""
    held_out: float = 0.2
    """Share of the episodes kept out of training: the held-out real trajectories of `lab eval`."""
    split_seed: int = 0
    """Seed of the train / held-out split and of the collecting episodes."""

    def __post_init__(self) -> None:
        if self.steps < 2:
            raise ConfigError(f"data.steps: expected at least 2, got {self.steps}")
        if not 0.0 < self.held_out < 1.0:
            raise ConfigError(f"data.held_out: expected a share between 0 and 1, got {self.held_out}")
        if not 0.0 <= self.random_share <= 1.0:
            raise ConfigError(f"data.random_share: expected a share between 0 and 1, got {self.random_share}")

    def sources(self) -> list[str]:
        out = [p.strip() for p in str(self.policy).split(",") if p.strip()]
        if not out:
            raise ConfigError("data.policy: expected random or a run folder, got an empty value")
        return out


@dataclass(frozen=True, eq=False)
class Transitions:
    """One data set of real transitions; arrays are per transition, episodes numbered from 0."""

    name: str
    env_id: str
    obs: np.ndarray
    """(N, D) float32 (grids: (N, C, H, W))."""
    actions: np.ndarray
    """(N,) int64 for Discrete actions, (N, A) float32 for Box ones."""
    rewards: np.ndarray
    """(N,) float32."""
    next_obs: np.ndarray
    """(N, D) float32: the observation after the action (the real final one at an episode's end)."""
    terminated: np.ndarray
    """(N,) bool."""
    episode: np.ndarray
    """(N,) int64 episode index; steps of one episode are contiguous and in order."""
    held_out_episodes: np.ndarray
    """Episode indices kept out of training."""
    real_steps: int
    """Real environment steps that were collected for this data set (all players)."""
    sources: tuple[str, ...] = ()
    extras: dict[str, Any] = field(default_factory=dict)

    # the lab.generator DataInfo fields (``shape`` is the observation's, as (D,))
    classes: tuple[str, ...] = ()

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(int(n) for n in self.obs.shape[1:])

    @property
    def train_mask(self) -> np.ndarray:
        return ~np.isin(self.episode, self.held_out_episodes)

    def split(self, held_out: bool) -> dict[str, np.ndarray]:
        m = ~self.train_mask if held_out else self.train_mask
        return {k: getattr(self, k)[m] for k in ("obs", "actions", "rewards", "next_obs", "terminated", "episode")}

    def starts(self, held_out: bool = False) -> np.ndarray:
        """(K, D) the first observation of every (training) episode: where a dreamed episode begins."""
        first = np.r_[True, self.episode[1:] != self.episode[:-1]]
        keep = first & (~self.train_mask if held_out else self.train_mask)
        return self.obs[keep]

    def trajectories(self, held_out: bool = True) -> list[dict[str, np.ndarray]]:
        """The (held-out) episodes, each a dict of arrays in step order."""
        part = self.split(held_out)
        out = []
        for e in np.unique(part["episode"]):
            m = part["episode"] == e
            out.append({k: v[m] for k, v in part.items()})
        return out


def vector_space_problem(space: Any) -> str | None:
    """Why a dynamics model cannot model observations of ``space`` (None: a 1-D Box it can)."""
    from gymnasium import spaces

    if isinstance(space, spaces.Box) and len(space.shape) == 1:
        return None
    if isinstance(space, spaces.Box) and len(space.shape) in (2, 3):
        return f"its observations are images or grids {space.shape}"
    return f"its observation space {space} is not a 1-D Box of numbers"


def grid_space_problem(space: Any) -> str | None:
    """Why world-diffusion cannot model observations of ``space`` (None: (C, H, W) planes, as the mazes give)."""
    from gymnasium import spaces

    if isinstance(space, spaces.Box) and len(space.shape) == 3 and space.shape[0] <= 8 and min(space.shape[1:]) >= 3:
        return None  # a few channel-first planes (height-by-width frames with channels last are not served yet)
    if isinstance(space, spaces.Box) and len(space.shape) == 1:
        return f"its observations are vectors {space.shape}"
    return f"its observation space {space} is not (C, H, W) grid planes"


def action_width(space: Any) -> int:
    """Width of the encoded action: n for Discrete(n) (one-hot), the size of a 1-D Box."""
    from gymnasium import spaces

    if isinstance(space, spaces.Discrete):
        return int(space.n)
    if isinstance(space, spaces.Box) and len(space.shape) == 1:
        return int(space.shape[0])
    raise LabError(f"action space {space}: world models take Discrete or 1-D Box actions")


def encode_actions(space: Any, actions: Any) -> np.ndarray:
    """(N, A) float32: one-hot Discrete actions (start counted), Box actions scaled to [-1, 1] where bounded."""
    from gymnasium import spaces

    a = np.asarray(actions)
    if isinstance(space, spaces.Discrete):
        idx = a.reshape(-1).astype(np.int64) - int(space.start)
        return np.eye(int(space.n), dtype=np.float32)[idx]
    a = a.reshape(len(a), -1).astype(np.float32)
    low, high = space.low.astype(np.float32), space.high.astype(np.float32)
    bounded = np.isfinite(low) & np.isfinite(high) & (high > low)
    scaled = np.where(bounded, 2 * (a - low) / np.where(bounded, high - low, 1) - 1, a)
    return scaled.astype(np.float32)


def player(policy: str, env: Any, seed: int, env_id: str) -> Any:
    """obs -> action: random, or a trained run's deterministic policy (a run trained on ``env_id`` itself or
    inside a world model of it, ``world:RUN_DIR``)."""
    from generators.rollouts import _player
    from lab.training.config import resolve_config

    if policy != "random" and Path(policy, "config.yaml").is_file():
        trained_on = resolve_config(config_file=str(Path(policy, "config.yaml"))).env
        world = trained_on.partition(":")[2] if trained_on.startswith("world:") else None
        if world is not None and Path(world, "config.yaml").is_file():
            real = resolve_config(config_file=str(Path(world, "config.yaml"))).env.partition(":")[2]
            if real != env_id:
                raise LabError(f"data.policy={policy}: trained inside a world model of {real}, not of {env_id}")
            return _player(policy, env, seed, trained_on)  # it checks the run's env against the one given
    return _player(policy, env, seed, env_id)


def _source_key(policy: str) -> str:
    if policy == "random":
        return "random"
    model = Path(policy) / "model.pt"
    if model.is_file():  # key a run by its final model's contents, not only by its name
        return hashlib.sha256(model.read_bytes()).hexdigest()[:16]
    return str(Path(policy).resolve())


def cache_path(env_id: str, policy: str, cfg: TransitionsConfig, index: int) -> Path:
    """``DATA/transitions/<env>-<hash of the player and how it played>.npz``."""
    from generators.datasets import data_dir

    key = json.dumps({"env": env_id, "policy": _source_key(policy), "steps": cfg.steps, "mix": cfg.random_share,
                      "seed": cfg.split_seed, "index": index, "v": 1}, sort_keys=True)
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in env_id)
    return data_dir() / "transitions" / f"{safe}-{hashlib.sha256(key.encode()).hexdigest()[:12]}.npz"


def collect_source(env_id: str, policy: str, cfg: TransitionsConfig, index: int = 0) -> tuple[dict[str, np.ndarray], bool]:
    """One player's transitions (cached) and whether they were collected now (False: read from the cache)."""
    path = cache_path(env_id, policy, cfg, index)
    if path.is_file():
        with np.load(path) as z:
            return {k: z[k] for k in z.files}, False
    from lab.envs import make_env, resolve_env

    info = resolve_env(env_id)
    env = make_env(info)
    seed = cfg.split_seed + 10_007 * index
    rng = np.random.default_rng(seed)
    env.action_space.seed(seed)
    cols: dict[str, list[Any]] = {k: [] for k in ("obs", "actions", "rewards", "next_obs", "terminated", "truncated", "episode")}
    try:
        act = player(policy, env, seed, env_id)
        ep = 0
        while len(cols["obs"]) < cfg.steps:
            obs, _ = env.reset(seed=seed + ep)
            done = False
            while not done and len(cols["obs"]) < cfg.steps:
                if policy != "random" and cfg.random_share > 0 and rng.random() < cfg.random_share:
                    action = env.action_space.sample()
                else:
                    action = act(obs)
                nxt, r, term, trunc, _ = env.step(action)
                for k, v in (("obs", obs), ("actions", np.asarray(action)), ("rewards", r), ("next_obs", nxt),
                             ("terminated", term), ("truncated", trunc), ("episode", ep)):
                    cols[k].append(v)
                obs, done = nxt, term or trunc
            ep += 1
    finally:
        env.close()
    out = {
        "obs": np.asarray(cols["obs"], np.float32), "actions": np.asarray(cols["actions"]),
        "rewards": np.asarray(cols["rewards"], np.float32), "next_obs": np.asarray(cols["next_obs"], np.float32),
        "terminated": np.asarray(cols["terminated"], bool), "truncated": np.asarray(cols["truncated"], bool),
        "episode": np.asarray(cols["episode"], np.int64),
    }
    with atomic.atomic_write(path, "wb") as f:
        np.savez_compressed(f, **out)
    return out, True


def load_transitions(env_id: str, cfg: TransitionsConfig, *, observations: str = "vector") -> Transitions:
    """``rollouts:ENV_ID`` as transitions: every player of ``cfg.policy`` collected (or read from the cache), joined.

    ``observations`` is what the model asking for them takes: ``vector`` (dynamics) or ``grid`` (world-diffusion)."""
    from lab.envs import resolve_env

    info = resolve_env(env_id)
    if info.kind != "gym":
        raise LabError(f"rollouts:{env_id}: a {info.kind}, not a single-agent Gymnasium environment")
    if observations == "grid":
        problem = grid_space_problem(info.observation_space)
        if problem is not None:
            raise LabError(f"rollouts:{env_id}: {problem}; world-diffusion models images and grids (for vector "
                           "observations train dynamics)")
    else:
        problem = vector_space_problem(info.observation_space)
        if problem is not None:
            raise LabError(f"rollouts:{env_id}: {problem}; the dynamics model takes vector observations (for images "
                           "and grids train world-diffusion)")
    action_width(info.action_space)
    parts = []
    for i, policy in enumerate(cfg.sources()):
        part, _ = collect_source(env_id, policy, cfg, i)
        parts.append(part)
    offset, joined = 0, {k: [] for k in parts[0]}
    for part in parts:
        for k, v in part.items():
            joined[k].append(v + offset if k == "episode" else v)
        offset += int(part["episode"].max()) + 1
    arrays = {k: np.concatenate(v) for k, v in joined.items()}
    n_ep = offset
    rng = np.random.default_rng(cfg.split_seed)
    k = min(max(1, int(round(cfg.held_out * n_ep))), n_ep - 1) if n_ep > 1 else 0
    if k == 0:
        raise LabError(f"rollouts:{env_id}: {n_ep} episode collected; a held-out split needs at least 2 "
                       "(more data.steps)")
    held = np.sort(rng.permutation(n_ep)[:k])
    return Transitions(
        name=f"rollouts:{env_id}", env_id=env_id, obs=arrays["obs"], actions=arrays["actions"],
        rewards=arrays["rewards"], next_obs=arrays["next_obs"], terminated=arrays["terminated"],
        episode=arrays["episode"], held_out_episodes=held, real_steps=int(len(arrays["obs"])),
        sources=tuple(cfg.sources()), extras={"truncated": arrays["truncated"], "info": info},
    )
