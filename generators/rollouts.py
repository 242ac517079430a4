"""Collect frames (or observations) and actions from a Gymnasium environment, cached in the lab's data folder.

Three kinds of image come out: rendered ``rgb_array`` frames (the default), image-shaped observations, and
vector observations (``data.observations=true`` on an environment such as CartPole-v1), which are served as
(1, 1, D) "images", each feature min-max scaled to [0, 1] over the collected set; the raw vectors are kept
beside the actions (``observations``) so nothing is lost to the scaling.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np

from lab import atomic
from lab.errors import LabError

__all__ = ["collect", "cache_path", "scale_vectors"]


def cache_path(env_id: str, cfg: Any) -> Path:
    """``DATA/rollouts/<env>-<hash of what was collected and how>.npz``."""
    from generators.datasets import data_dir

    policy = cfg.policy
    if policy != "random":  # a run folder: key it by its final model's contents, not only its name
        model = Path(policy) / "model.pt"
        policy = hashlib.sha256(model.read_bytes()).hexdigest()[:16] if model.is_file() else str(Path(policy).resolve())
    key = json.dumps(
        {"env": env_id, "policy": policy, "size": cfg.size or 32, "episodes": cfg.episodes,
         "max_frames": cfg.max_frames, "obs": cfg.observations, "seed": cfg.split_seed, "v": 1},
        sort_keys=True,
    )
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in env_id)
    return data_dir() / "rollouts" / f"{safe}-{hashlib.sha256(key.encode()).hexdigest()[:12]}.npz"


def _player(policy: str, env: Any, seed: int, env_id: str) -> Any:
    """A function obs -> action: uniformly random, or a trained run's deterministic policy."""
    if policy == "random":
        env.action_space.seed(seed)
        return lambda _obs: env.action_space.sample()
    from lab.device import resolve_device
    from lab.envs import resolve_env
    from lab.registry import AGENTS
    from lab.runs import RunDir
    from lab.training.config import resolve_config

    run = RunDir.open(policy)
    cfg = resolve_config(config_file=str(run.config_path))
    if cfg.algo not in AGENTS:
        raise LabError(f"data.policy={policy}: a {cfg.algo} generator run, not an agent run")
    if cfg.env != env_id:
        raise LabError(f"data.policy={policy}: trained on {cfg.env}, not on {env_id}")
    checkpoint = run.load_agent(algo=cfg.algo, expected_by=str(run.config_path))
    agent = AGENTS.load(cfg.algo)(cfg.agent, resolve_env(cfg.env), seed=cfg.seed, device=resolve_device("auto"))
    agent.load_state_dict(checkpoint.agent)
    act = getattr(agent, "act", None)
    if act is None:
        raise LabError(f"data.policy={policy}: {cfg.algo} agents cannot choose actions for single observations")
    return act


def scale_vectors(obs: np.ndarray) -> np.ndarray:
    """(N, D) vectors -> (N, 1, 1, D) float32 in [0, 1], each feature min-max scaled (a constant one: 0.5).

    >>> scale_vectors(np.array([[0.0, 2.0, 5.0], [4.0, 2.0, -5.0]]))[:, 0, 0]
    array([[0. , 0.5, 1. ],
           [1. , 0.5, 0. ]], dtype=float32)
    """
    obs = np.asarray(obs, np.float64)
    lo, hi = obs.min(0), obs.max(0)
    span = np.where(hi > lo, hi - lo, 1.0)
    scaled = np.where(hi > lo, (obs - lo) / span, 0.5)
    return scaled.astype(np.float32)[:, None, None, :]


def collect(env_id: str, cfg: Any) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """(images (N, C, H, W) float32 in [0, 1], extras): ``extras["actions"]`` (N, ...) holds the action taken after
    each frame, and for vector observations ``extras["observations"]`` (N, D) the raw vectors."""
    path = cache_path(env_id, cfg)
    if path.is_file():
        with np.load(path) as z:
            return z["images"], {k: z[k] for k in z.files if k != "images"}
    import gymnasium as gym

    from generators.datasets import resize_images
    from lab.envs import make_env, resolve_env

    info = resolve_env(env_id)  # unknown ids: the lab's usual suggestion

    try:
        env = make_env(info, render_mode=None if cfg.observations else "rgb_array")
    except gym.error.Error as e:
        raise LabError(f"rollouts:{env_id}: cannot render frames ({e})") from None
    size = cfg.size or 32
    frames: list[np.ndarray] = []
    actions: list[Any] = []
    try:
        act = _player(cfg.policy, env, cfg.split_seed, env_id)
        for ep in range(cfg.episodes):
            obs, _ = env.reset(seed=cfg.split_seed + ep)
            done = False
            while not done and len(frames) < cfg.max_frames:
                img = obs if cfg.observations else env.render()
                img = np.asarray(img)
                if img.ndim == 2:
                    img = img[:, :, None]
                vector = cfg.observations and img.ndim == 1  # scaled to [0, 1] once all are collected
                if not vector and (img.ndim != 3 or img.shape[2] not in (1, 3)):
                    what, want = ("observations", "a vector or an (H, W, 1 or 3) image") if cfg.observations \
                        else ("frames", "an (H, W, 1 or 3) image")
                    raise LabError(f"rollouts:{env_id}: its {what} have shape {img.shape}, not {want}")
                action = act(obs)
                frames.append(img)
                actions.append(np.asarray(action))
                obs, _r, term, trunc, _ = env.step(action)
                done = term or trunc
            if len(frames) >= cfg.max_frames:
                break
    finally:
        env.close()
    if not frames:
        raise LabError(f"rollouts:{env_id}: collected no frames")
    extras = {"actions": np.stack(actions)}
    if frames[0].ndim == 1:  # vector observations: (N, D), served as (N, 1, 1, D) in [0, 1]
        extras["observations"] = np.stack(frames).astype(np.float32)
        images = scale_vectors(extras["observations"])
        with atomic.atomic_write(path, "wb") as f:
            np.savez_compressed(f, images=images, **extras)
        return images, extras
    scale = 255.0 if frames[0].dtype == np.uint8 else max(1.0, float(np.max([f.max() for f in frames])))
    batch = np.stack([f.astype(np.float32) / scale for f in frames]).transpose(0, 3, 1, 2)  # (N, C, H, W)
    if batch.shape[-2] != batch.shape[-1]:
        import torch
        import torch.nn.functional as F

        batch = F.interpolate(torch.from_numpy(batch), size=(size, size), mode="area").numpy()
    images = resize_images(batch, size)
    with atomic.atomic_write(path, "wb") as f:
        np.savez_compressed(f, images=images, **extras)
    return images, extras
