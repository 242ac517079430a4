"""Environment steps per second with in-process (dummy) and subprocess workers, Atari and MuJoCo.

Each configuration steps ``n`` copies of the environment with random actions through SB3's
``DummyVecEnv`` or ``SubprocVecEnv`` (and EnvPool where it is installed and supports the id),
built the way ``lab train`` builds them (the lab's Atari wrappers and frame stack included).
Worker start-up is timed separately; the rate is measured after a warm-up.

    python benchmarks/vec_envs.py                       # ALE/Breakout-v5 and HalfCheetah-v5, 1/2/4/8 envs
    python benchmarks/vec_envs.py --envs CartPole-v1 --n 1 8 --seconds 3

Final line: JSON with steps/s per (env, vec, n) and which of dummy/subproc was faster at each n.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import _common  # noqa: F401 - puts the repository on sys.path


def measure(env_id: str, vec: str, n: int, seconds: float) -> dict:
    import numpy as np
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv, VecFrameStack

    from lab.envs import resolve_env

    info = resolve_env(env_id)
    t0 = time.perf_counter()
    if vec == "envpool":  # the task and settings `lab train --vec envpool` uses (frame stack included)
        from agents.sb3.envpool_vec import EnvPoolVecEnv, envpool_task

        task, kwargs = envpool_task(info)
        venv = EnvPoolVecEnv(task, n, 0, **kwargs)
        venv.reset()
        step = venv.step
        sample = lambda: np.array([venv.action_space.sample() for _ in range(n)])  # noqa: E731
    else:
        cls = DummyVecEnv if vec == "dummy" else SubprocVecEnv
        venv = make_vec_env(info.factory, n_envs=n, seed=0, wrapper_class=info.wrap, vec_env_cls=cls)
        if info.atari:
            venv = VecFrameStack(venv, 4)
        venv.reset()
        step = venv.step
        sample = lambda: np.array([venv.action_space.sample() for _ in range(n)])  # noqa: E731
    startup = time.perf_counter() - t0
    for _ in range(20):  # warm-up
        step(sample())
    steps, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        step(sample())
        steps += n
    rate = steps / (time.perf_counter() - t0)
    venv.close()
    return {"env": env_id, "vec": vec, "n": n, "steps_per_s": round(rate, 1), "startup_s": round(startup, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--envs", nargs="+", default=["ALE/Breakout-v5", "HalfCheetah-v5"])
    parser.add_argument("--n", nargs="+", type=int, default=[1, 2, 4, 8])
    parser.add_argument("--seconds", type=float, default=5.0, help="measuring time per configuration")
    parser.add_argument("--vecs", nargs="+", default=None, help="dummy, subproc, envpool (default: all installed)")
    args = parser.parse_args()
    vecs = ["dummy", "subproc"]
    from agents.sb3.envpool_vec import available

    if available():
        vecs.append("envpool")
    else:
        print("envpool not installed: measuring dummy and subproc only (pip install envpool)")
    vecs = [v for v in vecs if args.vecs is None or v in args.vecs]
    rows = []
    print(f"{os.cpu_count()} CPUs")
    print(f"{'env':<18} {'vec':<8} {'n':>2} {'steps/s':>9} {'startup s':>9}")
    for env_id in args.envs:
        for n in args.n:
            for vec in vecs:
                row = measure(env_id, vec, n, args.seconds)
                rows.append(row)
                print(f"{env_id:<18} {vec:<8} {n:>2} {row['steps_per_s']:>9.0f} {row['startup_s']:>9.2f}")
    faster = {}
    for env_id in args.envs:
        for n in args.n:
            by = {r["vec"]: r["steps_per_s"] for r in rows if r["env"] == env_id and r["n"] == n}
            faster[f"{env_id} n={n}"] = max(by, key=by.get)
    print(json.dumps({"cpus": os.cpu_count(), "rows": rows, "faster": faster}))


if __name__ == "__main__":
    main()
