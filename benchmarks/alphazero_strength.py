"""AlphaZero strength over training time: score vs mcts:N baselines as training goes on, then a final match.

Trains ``lab train alphazero GAME --minutes M`` (its periodic evaluations play the baselines), reads
the run's ``events.jsonl`` for the curve, draws it as a PNG, and plays a final match of the trained
agent against each baseline with colours alternated. Prints a final JSON line.

    python benchmarks/alphazero_strength.py --game tictactoe --minutes 3 --final-games 20
    python benchmarks/alphazero_strength.py --game connect_four --minutes 15 --final-games 40
    python benchmarks/alphazero_strength.py --from-run runs/az-c4 --final-games 40   # no training
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch

from lab import atomic
from lab.config import load_yaml
from lab.eventlog import read_events
from lab.events import MetricsLogged
from lab.game import resolve_game
from lab.players import describe_scores, make_player, play_games
from lab.runs import RunDir
from lab.training import resolve_config, train


def curve(run_dir: Path) -> list[dict]:
    """``[{"iteration", "minutes", "scores": {opponent: score}}]`` from the run's periodic evaluations."""
    points = []
    for e in read_events(RunDir(run_dir).events_path):
        metrics = e.get("metrics") or {}
        scores = {k.removeprefix("eval/score_vs_"): v for k, v in metrics.items() if k.startswith("eval/score_vs_")}
        if e.get("event") == MetricsLogged.__name__ and scores:
            points.append({"iteration": e["step"], "minutes": round(metrics.get("time/minutes", 0.0), 2), "scores": scores})
    return points


def plot(points: list[dict], out: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4), dpi=100)
    names = sorted({k for p in points for k in p["scores"]}, key=lambda k: (k == "previous", k))
    for name in names:
        xs = [p["minutes"] for p in points if name in p["scores"]]
        ys = [p["scores"][name] for p in points if name in p["scores"]]
        ax.plot(xs, ys, marker="o", markersize=3, linestyle="--" if name == "previous" else "-", label=f"vs {name}")
    ax.axhline(0.5, color="grey", linewidth=0.8)
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("training minutes (2 CPU cores)")
    ax.set_ylabel("score (win 1, draw 0.5)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    with atomic.atomic_write(out, "wb") as f:  # a crash leaves the previous curve, never half a PNG
        fig.savefig(f, format="png")
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--game", default="connect_four")
    parser.add_argument("--minutes", type=float, default=15.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--baselines", default=None, help="comma-separated specs (default: the agent's tuned eval_opponents)")
    parser.add_argument("--final-games", type=int, default=40, help="games per baseline in the final match")
    parser.add_argument("--from-run", type=Path, default=None, help="skip training: measure this finished run")
    parser.add_argument("--run-dir", type=Path, default=None)
    parser.add_argument("--png", type=Path, default=None, help="curve PNG (default RUN_DIR/strength.png)")
    args = parser.parse_args()
    torch.set_num_threads(1)

    t0 = time.perf_counter()
    if args.from_run is None:
        run_dir = args.run_dir or Path(tempfile.mkdtemp(prefix="az-strength-")) / "run"
        sets = [f"eval_opponents={json.dumps(args.baselines.split(','))}"] if args.baselines else []
        cfg = resolve_config(
            algo="alphazero", env=args.game, sets=sets, flags={"seed": args.seed, "track": False},
            agent_flags={"minutes": args.minutes},
        )
        train(cfg, run_dir=run_dir, display=False)
    else:
        run_dir = args.from_run
    train_s = time.perf_counter() - t0
    config = load_yaml(str(RunDir(run_dir).config_path))
    game = config["env"]
    game_cls = resolve_game(game)
    baselines = args.baselines.split(",") if args.baselines else list(config["agent"]["eval_opponents"])
    points = curve(run_dir)
    png = args.png or run_dir / "strength.png"
    if points:
        plot(points, png, f"AlphaZero on {game}: {config['agent'].get('minutes')} min, seed {config['seed']}")
    final = {}
    me = make_player(f"alphazero:{run_dir}", game_cls)
    for i, spec in enumerate(baselines):
        t1 = time.perf_counter()
        scores = play_games(game_cls, [me, make_player(spec, game_cls, seed=args.seed + 1000 + i)], args.final_games)
        final[spec] = {**describe_scores(scores), "as_first": describe_scores(scores[0::2])["score"],
                       "as_second": describe_scores(scores[1::2])["score"], "seconds": round(time.perf_counter() - t1, 1)}
        print(f"vs {spec}: {final[spec]}", flush=True)
    print(json.dumps({
        "benchmark": "alphazero_strength",
        "game": game,
        "run_dir": str(run_dir),
        "training_minutes": round(points[-1]["minutes"], 2) if points else None,
        "wall_minutes_this_run": round(train_s / 60, 2),
        "curve": points,
        "final": final,
        "png": str(png) if points else None,
    }))


if __name__ == "__main__":
    main()
