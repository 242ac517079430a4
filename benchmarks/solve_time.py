"""Time to solve: the lab's defaults against stable-baselines3 with the RL Zoo's configuration.

The zoo's entry comes from the installed rl_zoo3 package's own files (else from the copies in
benchmarks/zoo/); the output names the file used.

For each task and seed, both sides train until a 10-episode deterministic evaluation reaches the solved
threshold (CartPole-v1 475, Pendulum-v1 -200) or their step budget runs out. Reported per run: training
wall-clock until that evaluation (evaluation time excluded, everything else included: environment
steps, gradient steps, the lab's checkpoints and events) and environment steps. Each run is its own
process; the lab and the zoo alternate seed by seed so machine noise hits both alike.

With ``--to-budget`` each run goes on to its whole step budget (the lab's, or the zoo entry's
``n_timesteps``) and also reports its last evaluation and the lowest evaluation over the last fifth
of the budget: whether a solved agent stays solved.

    python benchmarks/solve_time.py --seeds 5
    python benchmarks/solve_time.py --tasks ppo --seeds 2 --lab-set ppo:n_epochs=10
    python benchmarks/solve_time.py --tasks dqn --seeds 5 --to-budget

Final line: JSON with, per task, both sides' runs, solved counts, median seconds and steps, and
``ratio`` = lab median seconds / zoo median seconds (target <= 0.5).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from _common import EVAL_SEED_OFFSET, Stopwatch, evaluate_raw, median, raw_sb3_model, run_child, zoo_source

# algo: (env, lab step budget, solved threshold, evaluate every N steps)
TASKS = {
    "ppo": ("CartPole-v1", 100_000, 475.0, 2_048),
    "dqn": ("CartPole-v1", 100_000, 475.0, 2_048),
    "sac": ("Pendulum-v1", 20_000, -200.0, 1_000),
}
EPISODES = 10


def child_lab(spec: dict) -> dict:
    from lab.events import EvalCompleted, RunStarted, StopRequested
    from lab.training import resolve_config, train

    env_id, budget, threshold, every = TASKS[spec["algo"]]
    cfg = resolve_config(
        algo=spec["algo"],
        env=env_id,
        sets=[f"seed={spec['seed']}", f"steps={budget}", *spec.get("sets", [])],
        flags={"eval_every": every, "eval_episodes": EPISODES, "track": False},
    )
    found: dict = {"seconds": None, "steps": None}
    evals: list[tuple[int, float]] = []

    class Solver:
        def attach(self, bus):
            self.bus = bus
            bus.subscribe(RunStarted, lambda e: setattr(self, "clock", Stopwatch()))
            bus.subscribe(EvalCompleted, self.on_eval)

        def on_eval(self, e):
            self.clock.exclude(e.seconds)
            evals.append((e.step, e.mean_return))
            if found["steps"] is None and e.mean_return >= threshold:
                found.update(seconds=self.clock.elapsed(), steps=e.step, eval=e.mean_return)
                if not spec.get("to_budget"):
                    self.bus.publish(StopRequested(reason="solved"))

    with tempfile.TemporaryDirectory() as tmp:
        result = train(cfg, run_dir=Path(tmp) / "run", subscribers=[Solver()], display=False)
    found["trained_steps"] = result.step
    if spec.get("to_budget"):
        found.update(_late_evals(evals, budget))
    return found


def _late_evals(evals: list[tuple[int, float]], budget: int) -> dict:
    """The last evaluation and the lowest one over the last fifth of the budget."""
    late = [r for step, r in evals if step >= 0.8 * budget] or [evals[-1][1]]
    return {"final_return": evals[-1][1], "min_late_return": min(late)}


def child_zoo(spec: dict) -> dict:
    from stable_baselines3.common.callbacks import BaseCallback

    env_id, _budget, threshold, every = TASKS[spec["algo"]]
    model, total = raw_sb3_model(spec["algo"], env_id, spec["seed"])
    found: dict = {"seconds": None, "steps": None}
    evals: list[tuple[int, float]] = []

    class Solver(BaseCallback):
        """Evaluates at rollout starts, as the lab does (its safe points)."""

        def _on_training_start(self) -> None:
            self.clock = Stopwatch()
            self.next_due = every

        def _on_rollout_start(self) -> None:
            step = self.model.num_timesteps
            if step < self.next_due or (found["steps"] is not None and not spec.get("to_budget")):
                return
            self.next_due = (step // every + 1) * every
            clock = Stopwatch()
            returns = evaluate_raw(self.model, env_id, EPISODES, spec["seed"] + EVAL_SEED_OFFSET)
            self.clock.exclude(clock.elapsed())
            mean = sum(returns) / len(returns)
            evals.append((step, mean))
            if mean >= threshold and found["steps"] is None:
                found.update(seconds=self.clock.elapsed(), steps=step, eval=mean)

        def _on_step(self) -> bool:
            return found["steps"] is None or bool(spec.get("to_budget"))

    model.learn(total_timesteps=total, callback=Solver())
    found["trained_steps"] = int(model.num_timesteps)
    if spec.get("to_budget"):
        returns = evaluate_raw(model, env_id, EPISODES, spec["seed"] + EVAL_SEED_OFFSET)
        evals.append((found["trained_steps"], sum(returns) / len(returns)))
        found.update(_late_evals(evals, total))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=5, help="Seeds 0..N-1 per task and side.")
    parser.add_argument("--tasks", default="ppo,dqn,sac", help="Comma-separated: " + ", ".join(TASKS))
    parser.add_argument("--sides", default="lab,zoo", help="lab, zoo or both.")
    parser.add_argument("--lab-set", action="append", default=[], metavar="ALGO:KEY=VALUE",
                        help="Try a change to the lab's defaults, e.g. dqn:net_arch=[64,64].")
    parser.add_argument("--to-budget", action="store_true",
                        help="Train to the whole budget and report the last and lowest late evaluations.")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        spec = json.loads(args.child)
        out = child_lab(spec) if spec["side"] == "lab" else child_zoo(spec)
        print(json.dumps(out))
        return

    tasks = [t.strip() for t in args.tasks.split(",") if t.strip()]
    sides = [s.strip() for s in args.sides.split(",") if s.strip()]
    for t in tasks:
        if t not in TASKS:
            parser.error(f"unknown task {t!r}; choose from {', '.join(TASKS)}")
    for s in sides:
        if s not in ("lab", "zoo"):
            parser.error(f"unknown side {s!r}; choose from lab, zoo")
    report: dict = {"benchmark": "solve_time", "seeds": args.seeds, "tasks": {}}
    for algo in tasks:
        env_id, budget, threshold, _every = TASKS[algo]
        sets = [s.split(":", 1)[1] for s in args.lab_set if s.startswith(algo + ":")]
        runs: dict[str, list[dict]] = {side: [] for side in sides}
        if "zoo" in sides:
            print(f"{algo} {env_id}: the zoo's entry from the {zoo_source(algo)}", file=sys.stderr, flush=True)
        for seed in range(args.seeds):
            order = sides if seed % 2 == 0 else sides[::-1]
            for side in order:
                spec = {"side": side, "algo": algo, "seed": seed, "sets": sets, "to_budget": args.to_budget}
                r = run_child(Path(__file__), spec)
                r["seed"] = seed
                runs[side].append(r)
                got = f"{r['seconds']:.1f} s, {r['steps']:,} steps" if r["steps"] is not None else "not solved"
                if args.to_budget:
                    got += f"; last eval {r['final_return']:.1f}, lowest late {r['min_late_return']:.1f}"
                print(f"{algo} {env_id} seed {seed} {side:>3}: {got} (trained {r['trained_steps']:,})", file=sys.stderr, flush=True)
        entry: dict = {"env": env_id, "threshold": threshold, "lab_budget": budget, "lab_sets": sets}
        if "zoo" in sides:
            entry["zoo_file"] = zoo_source(algo)
        for side, rs in runs.items():
            entry[side] = {
                "solved": sum(r["steps"] is not None for r in rs),
                "median_seconds": median([r["seconds"] for r in rs]),
                "median_steps": median([r["steps"] for r in rs]),
                "runs": rs,
            }
            if args.to_budget:
                entry[side]["final_at_threshold"] = sum(r["final_return"] >= threshold for r in rs)
        lab_s = entry.get("lab", {}).get("median_seconds")
        zoo_s = entry.get("zoo", {}).get("median_seconds")
        entry["ratio"] = (lab_s / zoo_s) if (lab_s is not None and zoo_s) else None
        report["tasks"][f"{algo}/{env_id}"] = entry
        summary = {s: (entry[s]["solved"], entry[s]["median_seconds"]) for s in sides}
        print(f"== {algo} {env_id}: solved/median s {summary}; ratio {entry['ratio']}", file=sys.stderr, flush=True)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
