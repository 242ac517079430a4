"""Sweep scaling: trials per hour with 1 and 2 local workers on the same short trials, and the scheduler's overhead.

    flock /tmp/lab-cpu.lock python benchmarks/sweep_scaling.py [--trials 8] [--steps 6144]

Each trial is a ``lab train`` run of PPO on CartPole-v1 with torch threads=1 (so two trials share two
cores), W&B off (this measures the scheduler, not W&B). The same sweep file (random search over the
learning rate, fixed seed) runs once with 1 worker and once with 2. Overhead per trial is the time not
spent inside a trial function: (wall x workers - sum of in-trial seconds) / trials; it includes Optuna,
results.csv, plots, process start and, with 2 workers, the idle tail while the last trial finishes.
The forkserver that preloads torch and SB3 is started once before timing (reported as startup_s).
``machine_busy`` is the share of all cores busy during each phase (anything else running shows there:
one worker alone should read about 0.5 on 2 cores). Prints one JSON line last.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def _cpu_times() -> tuple[float, float]:
    """(busy, total) jiffies of the whole machine, from /proc/stat."""
    fields = [float(x) for x in open("/proc/stat").readline().split()[1:]]
    idle = fields[3] + fields[4]
    return sum(fields) - idle, sum(fields)


def _machine_busy(seconds: float) -> float:
    b0, t0 = _cpu_times()
    time.sleep(seconds)
    b1, t1 = _cpu_times()
    return (b1 - b0) / max(1.0, t1 - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=8)
    ap.add_argument("--steps", type=int, default=6144)
    ap.add_argument("--quiet-wait", type=float, default=300,
                    help="Seconds to wait for other processes to leave the CPUs before measuring.")
    args = ap.parse_args()
    deadline = time.time() + args.quiet_wait
    busy_before = _machine_busy(2)
    while busy_before > 0.1 and time.time() < deadline:  # someone else is computing: wait for a quiet machine
        busy_before = _machine_busy(5)
    os.environ.setdefault("WANDB_MODE", "disabled")

    import yaml

    from lab.scheduler import Job, LocalBackend, Scheduler
    from lab.sweeps import SweepOptions, run_sweep

    sweep = {
        "name": "scaling", "method": "random",
        "metric": {"name": "eval/mean_return", "goal": "maximize"},
        "parameters": {
            "algo": {"value": "ppo"}, "env": {"value": "CartPole-v1"}, "steps": {"value": args.steps},
            "eval_episodes": {"value": 3}, "track": {"value": False}, "checkpoint_every": {"value": 0},
            "learning_rate": {"distribution": "log_uniform_values", "min": 1e-4, "max": 3e-3},
        },
    }
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "scaling.yaml"
        path.write_text(yaml.safe_dump(sweep))
        t0 = time.perf_counter()
        with Scheduler(LocalBackend(1, preload=["lab.sweeps.trials", "lab.training", "optuna", "agents.sb3"])) as warm:
            warm.submit(Job("warm-up", "builtins:abs", {"x": -1}))
            list(warm.drain())
        startup = time.perf_counter() - t0
        for workers in (1, 2):
            out = Path(tmp) / f"w{workers}"
            cpu0 = _cpu_times()
            s = run_sweep(path, SweepOptions(trials=args.trials, workers=workers, out=str(out), threads=1,
                                             display=False, seed=0))
            n = len(s.inside)
            overhead = (s.seconds * workers - sum(s.inside)) / n
            cpu1 = _cpu_times()
            busy = (cpu1[0] - cpu0[0]) / max(1.0, cpu1[1] - cpu0[1])
            results[f"workers_{workers}"] = {
                "trials": n, "states": s.states, "wall_s": round(s.seconds, 2),
                "trials_per_hour": round(3600 * n / s.seconds, 1),
                "mean_trial_s": round(sum(s.inside) / n, 2), "overhead_per_trial_s": round(overhead, 3),
                "machine_busy": round(busy, 2),
            }
            print(f"{workers} worker(s): {results[f'workers_{workers}']}", flush=True)
    speedup = results["workers_2"]["trials_per_hour"] / results["workers_1"]["trials_per_hour"]
    line = {
        "benchmark": "sweep_scaling", "trials": args.trials, "steps": args.steps, "cpus": os.cpu_count(),
        "startup_s": round(startup, 2), "machine_busy_before": round(busy_before, 2), **results, "speedup_2_vs_1": round(speedup, 3),
        "pass_speedup_ge_1.7": speedup >= 1.7,
        "pass_overhead_le_1s": max(r["overhead_per_trial_s"] for r in results.values()) <= 1.0,
    }
    print(json.dumps(line))


if __name__ == "__main__":
    main()
