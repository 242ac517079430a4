"""World-model environment steps per second (batched, one model call per batch step) against the real env's.

For CartPole-v1: a ``dynamics`` world model (trained here for a few hundred steps unless ``--world RUN_DIR`` names
one; speed does not depend on how well it learned) stepped through ``WorldVecEnv`` with n environments,
against n real CartPoles in SB3's ``DummyVecEnv`` (what ``lab train`` steps), random actions, side by side in
one process, alternating rounds. The maze family's diffusion world model is not built yet: it is reported as
missing, not guessed.

    python benchmarks/world_model_speed.py                   # n = 1, 16, 256
    python benchmarks/world_model_speed.py --n 16 --seconds 3 --rounds 3

Final line: JSON with steps/s per (kind, n) and the world/real ratio per n.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

import _common  # noqa: F401 - puts the repository on sys.path


def _rate(step, sample, n: int, seconds: float) -> float:
    for _ in range(10):  # warm-up
        step(sample())
    steps, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        step(sample())
        steps += n
    return steps / (time.perf_counter() - t0)


def _world_run(tmp: Path) -> Path:
    from lab import training

    run = tmp / "dynamics-CartPole-v1"
    cfg = training.resolve_config(algo="dynamics", env="rollouts:CartPole-v1", sets=["data.steps=2000"],
                                  flags={"steps": 300, "track": False})
    training.train(cfg, run_dir=run, display=False)
    return run


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--world", help="A trained dynamics run of CartPole-v1 (default: train a small one here).")
    p.add_argument("--n", type=int, nargs="+", default=[1, 16, 256], help="Environments stepped together.")
    p.add_argument("--seconds", type=float, default=2.0, help="Seconds per measurement.")
    p.add_argument("--rounds", type=int, default=2, help="Alternating rounds (the median is reported).")
    p.add_argument("--threads", type=int, default=1, help="Torch threads (1: the lab's default for small MLPs).")
    args = p.parse_args()

    import numpy as np
    import torch
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.vec_env import DummyVecEnv

    from envs.world.env import WorldVecEnv, load_model
    from lab.envs import resolve_env

    torch.set_num_threads(args.threads)
    os.environ.setdefault("WANDB_MODE", "offline")
    with tempfile.TemporaryDirectory() as tmp:
        os.environ.setdefault("LAB_DATA_DIR", str(Path(tmp) / "data"))
        run = Path(args.world) if args.world else _world_run(Path(tmp))
        model = load_model(str(run))
        info = resolve_env("CartPole-v1")
        rates: dict[tuple[str, int], list[float]] = {}
        for _ in range(args.rounds):
            for n in args.n:
                rng = np.random.default_rng(0)
                sample = lambda n=n, rng=rng: rng.integers(0, 2, size=n)  # noqa: E731
                world = WorldVecEnv(model, n)
                world.seed(0)
                world.reset()
                rates.setdefault(("world", n), []).append(_rate(world.step, sample, n, args.seconds))
                real = make_vec_env(info.factory, n_envs=n, seed=0, vec_env_cls=DummyVecEnv)
                real.reset()
                rates.setdefault(("real", n), []).append(_rate(real.step, sample, n, args.seconds))
                real.close()
        rows = []
        for n in args.n:
            w, r = statistics.median(rates[("world", n)]), statistics.median(rates[("real", n)])
            rows.append({"env": "CartPole-v1", "n": n, "world_steps_per_s": round(w, 1), "real_steps_per_s": round(r, 1),
                         "world_over_real": round(w / r, 3)})
            print(f"CartPole-v1 n={n:>4}: dynamics world model {w:>10,.0f} steps/s, real env {r:>10,.0f} steps/s "
                  f"({w / r:.2f}x)")
    print("maze family (world-diffusion): not built yet, not measured")
    print(json.dumps({"benchmark": "world_model_speed", "threads": args.threads, "cartpole": rows,
                      "maze_diffusion": None, "load_average": os.getloadavg()[0]}))


if __name__ == "__main__":
    main()
