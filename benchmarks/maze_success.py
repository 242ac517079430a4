"""Held-out success of PPO runs on mazes: the evaluations a run logged, and a random policy beside them.

    python benchmarks/maze_success.py RUN [RUN ...] --out benchmarks/results/maze_ppo_success.png

Each run's periodic evaluations (``EvalCompleted`` in events.jsonl) are read as success rates (an episode
is a success when its return is above the env's ``success_return``: it reached the goal); with the
maze family's defaults they are played on held-out procedural levels. A uniformly random policy is
measured on the same held-out levels of each run's maze size. A run's ``eval.json`` (from ``lab eval RUN
--env maze-13:procedural --levels held-out --episodes 200``) adds its final success rate and mean episode
length (read back from the returns: ``1 - 0.9 * steps / max_steps`` at the goal, ``max_steps`` otherwise),
and its ``LevelDrawn`` events the outcomes of the levels it trained on (ok, repaired, procedural fallback).

``--compare A B`` (two run names) adds the difference of their final held-out success in points: the
generated-levels experiment, ``maze-13:generator:RUN_DIR`` against ``maze-13:procedural``.
Prints a table; ends with one JSON line.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import numpy as np
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lab.eventlog import read_events  # noqa: E402
from lab.envs import resolve_env  # noqa: E402
from lab.training.config import resolve_config  # noqa: E402


def random_success(env_id: str, options: dict, episodes: int = 200) -> float:
    info = resolve_env(env_id, options, {"levels": "held-out"})
    env = info.eval_factory()
    rng = np.random.default_rng(0)
    wins = 0
    for ep in range(episodes):
        env.reset(seed=ep)
        while True:
            _obs, _r, terminated, truncated, _info = env.step(int(rng.integers(env.action_space.n)))
            if terminated or truncated:
                wins += terminated
                break
    return wins / episodes


def final_eval(run: Path, env_id: str, options: dict) -> dict | None:
    """Success rate and mean episode length of the run's ``eval.json`` (None when it has none)."""
    path = run / "eval.json"
    if not path.exists():
        return None
    data = json.loads(path.read_text())
    returns = np.asarray(data.get("returns") or [], float)
    if not len(returns):
        return None
    max_steps = resolve_env(env_id, options, {"levels": "held-out"}).eval_factory().max_steps
    lengths = np.where(returns > 0, np.rint(max_steps * (1 - returns) / 0.9), max_steps)
    success = data.get("success_rate", float(np.mean(returns > 0)))
    mean_length = data.get("mean_length", float(lengths.mean()))
    return {"success": float(success), "mean_episode_length": float(mean_length),
            "episodes": int(len(returns)), "step": data.get("step"), "deterministic": data.get("deterministic")}


def level_outcomes(events: list[dict]) -> dict[str, int]:
    out: dict[str, int] = {}
    for e in events:
        if e["event"] == "LevelDrawn":
            out[e["outcome"]] = out.get(e["outcome"], 0) + 1
            out["rejected_draws"] = out.get("rejected_draws", 0) + int(e.get("rejections", 0))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, default=Path("maze_success.png"))
    parser.add_argument("--compare", nargs=2, metavar=("A", "B"), help="two run names: A's final success minus B's")
    args = parser.parse_args()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    fig, ax = plt.subplots(figsize=(5, 3.2), dpi=100)
    result = {"benchmark": "maze_success", "runs": {}}
    for run in args.runs:
        cfg = resolve_config(config_file=str(run / "config.yaml"))
        # evaluation plays held-out procedural levels whatever the run trained on: no need to load its source
        eval_id = re.sub(r"^(maze-[^:]*):.*$", r"\1:procedural", cfg.env)
        threshold = resolve_env(eval_id, cfg.env_options).success_return or 0.0
        events = read_events(run / "events.jsonl")
        evals = [e for e in events if e["event"] == "EvalCompleted"]
        steps = [e["step"] for e in evals]
        rates = [float(np.mean([r > threshold for r in e["returns"]])) for e in evals]
        baseline = random_success(eval_id, cfg.env_options)
        label = f"{cfg.env} {cfg.env_options or ''}".strip()
        # from the file as written: a run older than the option evaluated greedily, whatever the defaults say now
        written = yaml.safe_load((run / "config.yaml").read_text()).get("agent") or {}
        greedy = "greedy" if written.get("eval_deterministic", True) else "sampled"
        line = ax.plot(steps, rates, marker="o", label=f"{run.name}: {label}, {greedy} actions")[0]
        ax.axhline(baseline, color=line.get_color(), linestyle=":", label=f"random policy, {eval_id} held-out")
        for s, r in zip(steps, rates):
            print(f"{run.name:<12} {cfg.env:<22} step {s:>8,}  held-out success {r:.3f}")
        print(f"{run.name:<12} {cfg.env:<22} random policy held-out success {baseline:.3f}")
        result["runs"][run.name] = {"env": cfg.env, "steps": steps, "success": rates, "random_policy": baseline}
        final = final_eval(run, eval_id, cfg.env_options)
        outcomes = level_outcomes(events)
        result["runs"][run.name]["levels"] = outcomes
        print(f"{run.name:<12} training levels: " + ", ".join(f"{k} {v}" for k, v in sorted(outcomes.items())))
        if final is not None:
            result["runs"][run.name]["final"] = final
            print(f"{run.name:<12} final held-out success {final['success']:.3f}, mean episode length "
                  f"{final['mean_episode_length']:.0f} ({final['episodes']} episodes)")
    if args.compare:
        a, b = (result["runs"].get(name, {}).get("final") for name in args.compare)
        if a and b:
            result["compare"] = {"runs": args.compare, "success_difference_points": 100 * (a["success"] - b["success"]),
                                 "within_10_points": abs(a["success"] - b["success"]) <= 0.10}
            print(f"{args.compare[0]} - {args.compare[1]}: {result['compare']['success_difference_points']:+.1f} points")
    ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda x, _pos: f"{x / 1000:.0f}k"))
    ax.set_xlabel("environment steps")
    ax.set_ylabel("success on held-out levels")
    ax.set_ylim(-0.02, 1.02)
    ax.legend(fontsize=7)
    fig.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
