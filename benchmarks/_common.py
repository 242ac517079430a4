"""Shared pieces of the benchmarks: raw stable-baselines3 built from an RL Zoo entry, timing helpers.

The "raw" side is what a user of stable-baselines3 + the RL Zoo runs: the zoo's published entry, SB3
constructed directly, torch's default thread count. The entry is read from the installed ``rl_zoo3``
package's own ``hyperparams/<algo>.yml`` where rl_zoo3 is installed, else from the copies in
``benchmarks/zoo/`` (rl_zoo3 2.9.2's entries for the benchmarked ids); :func:`zoo_file` says which.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from lab.evaluation import EVAL_SEED_OFFSET  # noqa: E402 - the lab's evaluation seeds, after the path is set


def zoo_file(algo: str) -> Path:
    """The zoo's hyperparameter file for ``algo``: the installed rl_zoo3's own, else ``benchmarks/zoo/``'s copy."""
    try:
        import rl_zoo3
    except ImportError:
        return HERE / "zoo" / f"{algo}.yml"
    own = Path(rl_zoo3.__file__).parent / "hyperparams" / f"{algo}.yml"
    return own if own.exists() else HERE / "zoo" / f"{algo}.yml"


def zoo_source(algo: str) -> str:
    """Which file :func:`zoo_entry` reads, for reports: ``rl_zoo3 2.9.2 (PATH)`` or ``copy (PATH)``."""
    path = zoo_file(algo)
    if path.parent == HERE / "zoo":
        return f"copy in benchmarks/zoo (rl_zoo3 not installed): {path}"
    import rl_zoo3

    return f"rl_zoo3 {getattr(rl_zoo3, '__version__', '?')} package: {path}"


def zoo_entry(algo: str, env_id: str) -> dict[str, Any]:
    import yaml

    data = yaml.safe_load(zoo_file(algo).read_text())
    return dict(data[env_id])


def _zoo_schedule(value: Any) -> Any:
    from stable_baselines3.common.utils import LinearSchedule

    if isinstance(value, str) and value.startswith("lin_"):
        return LinearSchedule(float(value[4:]), 0.0, 1.0)  # the zoo's linear_schedule: x * progress_remaining
    return float(value)


def raw_sb3_model(algo: str, env_id: str, seed: int):
    """(model, total_timesteps) for SB3 configured exactly by the zoo entry, as rl_zoo3 would build it."""
    import stable_baselines3
    import torch.nn as nn
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.vec_env import DummyVecEnv

    from agents.sb3.zoo import parse_policy_kwargs  # safe (ast) parsing of the zoo's policy_kwargs string

    entry = zoo_entry(algo, env_id)
    total = int(float(entry.pop("n_timesteps")))
    policy = entry.pop("policy", "MlpPolicy")
    n_envs = int(entry.pop("n_envs", 1))
    kwargs: dict[str, Any] = {}
    for key, value in entry.items():
        if key in ("learning_rate", "clip_range"):
            kwargs[key] = _zoo_schedule(value)
        elif key == "policy_kwargs":
            parsed, unsupported = parse_policy_kwargs(value)
            assert not unsupported, unsupported
            pk = dict(parsed.get("policy_kwargs", {}))
            if "net_arch" in parsed:
                pk["net_arch"] = parsed["net_arch"]
            if "activation" in parsed:
                pk["activation_fn"] = {"relu": nn.ReLU, "tanh": nn.Tanh}[parsed["activation"]]
            kwargs["policy_kwargs"] = pk
        else:
            kwargs[key] = value
    venv = make_vec_env(env_id, n_envs=n_envs, seed=seed, vec_env_cls=DummyVecEnv)
    model = getattr(stable_baselines3, algo.upper())(policy, venv, seed=seed, verbose=0, **kwargs)
    return model, total


def evaluate_raw(model, env_id: str, episodes: int, seed: int) -> list[float]:
    """The lab's evaluation protocol for a raw SB3 model: deterministic, up to 8 envs, eval seeds."""
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.evaluation import evaluate_policy
    from stable_baselines3.common.vec_env import DummyVecEnv

    venv = make_vec_env(env_id, n_envs=min(episodes, 8), seed=seed, vec_env_cls=DummyVecEnv)
    try:
        returns, _ = evaluate_policy(model, venv, n_eval_episodes=episodes, deterministic=True, return_episode_rewards=True, warn=False)
    finally:
        venv.close()
    return [float(r) for r in returns]


def run_child(script: Path, spec: dict[str, Any], timeout: float | None = None) -> dict[str, Any]:
    """Run ``script --child SPEC`` in a fresh interpreter (own torch threads, no shared state); its last JSON line."""
    env = dict(os.environ, WANDB_MODE="offline", WANDB_SILENT="true", PYTHONPATH=str(ROOT))
    proc = subprocess.run(
        [sys.executable, str(script), "--child", json.dumps(spec)],
        capture_output=True, text=True, env=env, timeout=timeout, cwd=ROOT,
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"child {spec} failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    return json.loads(lines[-1])


def median(values: list[float]) -> float | None:
    """Median where ``None`` (never reached) sorts last; ``None`` when the middle run never got there."""
    if not values:
        return None
    ordered = sorted(values, key=lambda v: float("inf") if v is None else v)
    mid = ordered[(len(ordered) - 1) // 2 : len(ordered) // 2 + 1]
    if any(v is None for v in mid):
        return None
    return statistics.fmean(mid)


class Stopwatch:
    """Wall-clock since start minus the time spent in excluded sections (evaluations)."""

    def __init__(self) -> None:
        self.t0 = time.perf_counter()
        self.excluded = 0.0

    def exclude(self, seconds: float) -> None:
        self.excluded += seconds

    def elapsed(self) -> float:
        return time.perf_counter() - self.t0 - self.excluded
