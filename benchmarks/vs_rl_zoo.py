"""The real rl-baselines3-zoo against ``lab train`` with the same hyperparameters, and the lab's defaults.

Three sides per task, alternated round by round, each run its own process (whole-process wall-clock,
imports and environment start-up included), one torch thread on both zoo-configured sides:

* ``zoo``: ``python -m rl_zoo3.train --algo A --env E -n STEPS --num-threads 1 --eval-freq -1``
  (rl_zoo3 installed: ``pip install rl_zoo3``; its own ``hyperparams/A.yml``).
* ``lab-zoo``: ``lab train A E --hyperparams <that same file> --steps STEPS --set threads=1`` (the
  zoo's configuration, checked key by key against what rl_zoo3 passes to SB3 in
  ``tests/agents/test_vs_rl_zoo3.py``). Its wall-clock is also given without the final evaluation
  the lab always runs (the zoo side runs none).
* ``lab``: ``lab train A E --eval-every N`` with the lab's own defaults (their own step budget, on
  which the exploration and learning-rate schedules depend; stopped with Ctrl-C once solved), for
  tasks with a solved threshold (CartPole-v1 475, Pendulum-v1 -200): training seconds (evaluations
  excluded) and steps until the first 10-episode evaluation at or above it. ``--scale`` does not
  change this side.

    python benchmarks/vs_rl_zoo.py                  # all tasks, 2 rounds
    python benchmarks/vs_rl_zoo.py --tasks ppo-cartpole dqn-cartpole --rounds 1 --scale 0.5

Final line: JSON with, per task, every run's figures, median steps/s per side, ``throughput_ratio`` =
lab-zoo steps/s / zoo steps/s (target >= 1.0) and ``solve_ratio`` = the lab's seconds to solve / the
zoo's wall-clock for the same steps (target <= 0.5).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import ROOT

# name: (algo, env, steps, solved threshold or None, lab --eval-every)
TASKS = {
    "ppo-cartpole": ("ppo", "CartPole-v1", 100_000, 475.0, 2_048),
    "dqn-cartpole": ("dqn", "CartPole-v1", 50_000, 475.0, 2_048),
    "sac-pendulum": ("sac", "Pendulum-v1", 5_000, -200.0, 1_000),
    "ppo-breakout": ("ppo", "BreakoutNoFrameskip-v4", 8_192, None, 0),
}


MIN_STEPS = 2048
"""The fewest steps a scaled task runs: more than one rollout of the zoo's Atari PPO (128 x 8), which the
lab refuses to train for (a budget that makes no update)."""


def _zoo_file(algo: str) -> Path:
    import rl_zoo3

    return Path(rl_zoo3.__file__).parent / "hyperparams" / f"{algo}.yml"


def _run(cmd: list[str], cwd: Path, timeout: float) -> float:
    env = dict(os.environ, WANDB_MODE="offline", WANDB_SILENT="true", PYTHONPATH=str(ROOT))
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    return seconds


def _events(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines() if line.strip()]


def run_zoo(task: str, steps: int, seed: int, timeout: float) -> dict:
    algo, env_id, *_ = TASKS[task]
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "rl_zoo3.train", "--algo", algo, "--env", env_id, "-n", str(steps),
               "--num-threads", "1", "--eval-freq", "-1", "--seed", str(seed), "-f", tmp, "--verbose", "0"]
        wall = _run(cmd, Path(tmp), timeout)
    return {"side": "zoo", "steps": steps, "wall_s": round(wall, 2), "steps_per_s": round(steps / wall, 1)}


def _lab_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "lab.cli", "train", *args, "--no-track", "--quiet"]


def run_lab_zoo(task: str, steps: int, seed: int, timeout: float) -> dict:
    algo, env_id, *_ = TASKS[task]
    with tempfile.TemporaryDirectory() as tmp:
        run = Path(tmp) / "run"
        cmd = _lab_cmd(algo, env_id, "--hyperparams", str(_zoo_file(algo)), "--steps", str(steps), "--seed", str(seed),
                       "--set", "threads=1", "--run-dir", str(run))
        wall = _run(cmd, ROOT, timeout)
        evals = [e for e in _events(run) if e["event"] == "EvalCompleted"]
    final_eval = float(evals[-1].get("seconds", 0.0)) if evals else 0.0
    return {"side": "lab-zoo", "steps": steps, "wall_s": round(wall, 2), "steps_per_s": round(steps / wall, 1),
            "final_eval_s": round(final_eval, 2), "wall_excl_eval_s": round(wall - final_eval, 2),
            "steps_per_s_excl_eval": round(steps / (wall - final_eval), 1)}


def _first_solved(events: list[dict], threshold: float) -> dict | None:
    t0 = events[0]["time"]
    spent_evaluating = 0.0
    for e in events:
        if e["event"] != "EvalCompleted":
            continue
        spent_evaluating += float(e.get("seconds", 0.0))
        if e["mean_return"] >= threshold:
            return {"step": e["step"], "train_s": round(e["time"] - t0 - spent_evaluating, 2), "eval": e["mean_return"]}
    return None


def _read_events(path: Path) -> list[dict]:
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return []
    out = []
    for line in lines:
        try:
            out.append(json.loads(line))
        except ValueError:  # a line being written right now
            break
    return out


def run_lab_defaults(task: str, steps: int, seed: int, timeout: float) -> dict:
    """``lab train A E`` exactly as the defaults are (their own step budget: exploration and learning-rate
    schedules follow it), stopped with Ctrl-C once an evaluation reaches the threshold."""
    algo, env_id, _steps, threshold, every = TASKS[task]
    env = dict(os.environ, WANDB_MODE="offline", WANDB_SILENT="true", PYTHONPATH=str(ROOT))
    with tempfile.TemporaryDirectory() as tmp:
        run = Path(tmp) / "run"
        cmd = _lab_cmd(algo, env_id, "--seed", str(seed), "--eval-every", str(every), "--run-dir", str(run))
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        solved = None
        while proc.poll() is None:
            time.sleep(0.5)
            events = _read_events(run / "events.jsonl")
            solved = _first_solved(events, threshold) if events else None
            if solved is not None or time.perf_counter() - t0 > timeout:
                proc.send_signal(signal.SIGINT)  # the lab stops at its next safe point
                break
        _out, err = proc.communicate(timeout=600)
        wall = time.perf_counter() - t0
        if proc.returncode not in (0, 130):
            raise RuntimeError(f"{' '.join(cmd)} failed (exit {proc.returncode}):\n{err[-3000:]}")
        events = _events(run)
    solved = _first_solved(events, threshold)
    trained = max((e.get("step", 0) for e in events), default=0)
    return {"side": "lab", "steps": trained, "wall_s": round(wall, 2), "solved": solved}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", nargs="+", default=list(TASKS), choices=list(TASKS))
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every task's steps (quick runs: 0.3)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds one run may take")
    args = parser.parse_args()
    try:
        import rl_zoo3  # noqa: F401
    except ImportError:
        parser.exit(2, "error: this benchmark runs the real rl-baselines3-zoo: pip install rl_zoo3\n")
    results: dict = {}
    for task in args.tasks:
        algo, env_id, steps, threshold, _every = TASKS[task]
        steps = max(MIN_STEPS, int(steps * args.scale))
        runs: list[dict] = []
        for r in range(args.rounds):
            sides = [run_zoo, run_lab_zoo] if r % 2 == 0 else [run_lab_zoo, run_zoo]
            if threshold is not None:
                sides.append(run_lab_defaults)
            for side in sides:
                row = side(task, steps, args.seed, args.timeout)
                row["round"] = r
                runs.append(row)
                print(f"{task:<13} round {r}  {json.dumps(row)}", flush=True)
        by = {s: [x for x in runs if x["side"] == s] for s in ("zoo", "lab-zoo", "lab")}
        med = {s: statistics.median(x["steps_per_s"] for x in by[s]) for s in ("zoo", "lab-zoo")}
        zoo_wall = statistics.median(x["wall_s"] for x in by["zoo"])
        solves = [x["solved"]["train_s"] for x in by["lab"] if x.get("solved")]
        results[task] = {
            "algo": algo, "env": env_id, "steps": steps, "runs": runs,
            "zoo_steps_per_s": med["zoo"], "lab_zoo_steps_per_s": med["lab-zoo"],
            "lab_zoo_steps_per_s_excl_eval": statistics.median(x["steps_per_s_excl_eval"] for x in by["lab-zoo"]),
            "zoo_wall_s": zoo_wall,
            "throughput_ratio": round(med["lab-zoo"] / med["zoo"], 3),
            "lab_solve_s": statistics.median(solves) if solves else None,
            "lab_solved": f"{len(solves)}/{len(by['lab'])}" if threshold is not None else None,
            "solve_ratio": round(statistics.median(solves) / zoo_wall, 3) if solves else None,
        }
    print()
    print(f"{'task':<13} {'steps':>7} {'zoo steps/s':>11} {'lab-zoo steps/s':>15} {'ratio':>6} {'zoo wall s':>10} {'lab solve s':>11} {'solve ratio':>11}")
    for task, r in results.items():
        solve = "-" if r["lab_solve_s"] is None else f"{r['lab_solve_s']:.1f}"
        ratio = "-" if r["solve_ratio"] is None else f"{r['solve_ratio']:.2f}"
        print(f"{task:<13} {r['steps']:>7} {r['zoo_steps_per_s']:>11.0f} {r['lab_zoo_steps_per_s']:>15.0f} "
              f"{r['throughput_ratio']:>6.2f} {r['zoo_wall_s']:>10.1f} {solve:>11} {ratio:>11}")
    print(json.dumps({"rounds": args.rounds, "scale": args.scale, "cpus": os.cpu_count(), "tasks": results}))


if __name__ == "__main__":
    main()
