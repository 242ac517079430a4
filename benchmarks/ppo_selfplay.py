"""PPO self-play on board games: the trained player's strength, and what batching the opponents' moves buys.

Strength: trains ``lab train ppo GAME --seed 0`` with its default budget (or takes ``--from-run``), then
plays the acceptance matches with colours alternated — Tic-Tac-Toe: 20 games against ``minimax``;
Connect Four: 100 against ``random`` and 40 against ``mcts:50`` — and, given ``--alphazero RUN``, a
``lab tournament`` round robin of the PPO run, the AlphaZero run and ``mcts:100`` for their ratings.

Speed (``--speed``): rollout collection of the tuned config (random legal learner moves, the league's
snapshots replying), with the opponents' moves batched across the envs (one network call per opponent
and step) against each env's opponent moving inside its own ``step``, alternated in one run.

    python benchmarks/ppo_selfplay.py --game tictactoe
    python benchmarks/ppo_selfplay.py --game connect_four --from-run runs/ppo-c4 --alphazero runs/az-c4
    python benchmarks/ppo_selfplay.py --game connect_four --speed

Ends with one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from lab.eventlog import read_events  # noqa: E402
from lab.game import resolve_game  # noqa: E402
from lab.players import describe_scores, make_player, play_games  # noqa: E402

MATCHES = {"tictactoe": [("minimax", 20), ("random", 100)], "connect_four": [("random", 100), ("mcts:50", 40)]}


def lab(*args: str) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).with_name("lab")
    env = {**os.environ, "WANDB_MODE": os.environ.get("WANDB_MODE", "offline")}
    return subprocess.run([str(exe), *args], env=env, check=True, text=True, capture_output=True)


def train(game: str, seed: int, out: Path) -> dict:
    t0 = time.perf_counter()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    lab("train", "ppo", game, "--seed", str(seed), "--run-dir", str(out), "--no-track", "--quiet")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"wall_s": round(time.perf_counter() - t0, 1), "cpu_s": round(cpu, 1)}


def run_figures(run: Path) -> dict:
    events = read_events(run / "events.jsonl")
    finished = [e for e in events if e["event"] == "RunFinished"]
    league = [e for e in events if e["event"] == "LeagueUpdated"]
    games = [e["metrics"]["selfplay/games"] for e in events if e["event"] == "MetricsLogged" and "selfplay/games" in e["metrics"]]
    out = {"steps": finished[-1]["step"] if finished else None, "snapshots": len(league) + 1, "games": games[-1] if games else None}
    if league:
        last = league[-1]
        out["pool"] = [m["id"] for m in last["pool"]["members"]]
        out["ratings"] = {p["name"]: p["rating"] for p in last["ratings"]["players"]}
    return out


def matches(game_cls, run: Path, seed: int) -> dict:
    me = make_player(f"ppo:{run}", game_cls)
    results = {}
    for spec, games in MATCHES[game_cls.name]:
        t0 = time.perf_counter()
        scores = play_games(game_cls, [me, make_player(spec, game_cls, seed=seed)], games)
        results[spec] = {**describe_scores(scores), "as_first": float(np.mean(scores[0::2])),
                         "as_second": float(np.mean(scores[1::2])), "seconds": round(time.perf_counter() - t0, 1)}
        print(f"ppo vs {spec}: {results[spec]}", flush=True)
    return results


def tournament(game: str, run: Path, alphazero: str, games: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "t"
        lab("tournament", game, "--player", f"ppo=ppo:{run}", "--player", f"alphazero=alphazero:{alphazero}",
            "--player", "mcts100=mcts:100", "--games-per-pair", str(games), "--out", str(out))
        ratings = json.loads((out / "ratings.json").read_text())
    table = {p["name"]: {k: p[k] for k in ("rating", "ci_low", "ci_high", "games", "score")} for p in ratings["players"]}
    print(f"tournament ({games} games per pair): {table}", flush=True)
    return {"games_per_pair": games, "anchor": ratings["anchor"], "players": table}


def speed(game: str, steps: int, rounds: int, pool: int) -> dict:
    """Rollout steps/s with the opponents' moves batched across envs and inside each env's step."""
    from lab.envs import resolve_env
    from lab.training import resolve_config
    from agents.sb3.agent import PPO

    torch.set_num_threads(1)
    rates: dict[str, list[float]] = {"batched": [], "in_step": []}
    for r in range(rounds):
        for mode in ("batched", "in_step") if r % 2 == 0 else ("in_step", "batched"):
            cfg = resolve_config(algo="ppo", env=game, sets=[f"league.batch_opponents={str(mode == 'batched').lower()}"])
            agent = PPO(cfg.agent, resolve_env(game), seed=0, device="cpu")
            for k in range(pool - 1):
                agent.league.admit(k + 1, agent.model.policy.state_dict())
            venv, rng = agent.venv, np.random.default_rng(0)
            venv.reset()
            t0 = time.perf_counter()
            for _ in range(steps // venv.num_envs):
                masks = np.stack(venv.env_method("action_masks"))
                venv.step(np.array([rng.choice(np.flatnonzero(m)) for m in masks]))
            rates[mode].append(steps / (time.perf_counter() - t0))
    med = {k: float(np.median(v)) for k, v in rates.items()}
    print(f"rollout steps/s over {rounds} alternated rounds (pool of {pool} snapshots + fixed players): {med}", flush=True)
    return {"steps_per_s": med, "rounds": {k: [round(x) for x in v] for k, v in rates.items()},
            "batching_speedup": med["batched"] / med["in_step"], "pool": pool}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--game", default="tictactoe", choices=sorted(MATCHES))
    ap.add_argument("--from-run", type=Path, help="Evaluate this run folder instead of training one.")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--alphazero", help="An AlphaZero run folder on the same game: adds a tournament with mcts:100.")
    ap.add_argument("--tournament-games", type=int, default=20, help="Games per pair in that tournament.")
    ap.add_argument("--speed", action="store_true", help="Measure rollout speed with and without opponent batching.")
    ap.add_argument("--speed-steps", type=int, default=4096)
    ap.add_argument("--speed-rounds", type=int, default=4)
    ap.add_argument("--pool", type=int, default=1, help="Snapshots in the pool for --speed (1: every env plays gen0).")
    ap.add_argument("--out", type=Path, help="Also write the JSON result here.")
    args = ap.parse_args()
    result: dict = {"benchmark": "ppo_selfplay", "game": args.game}
    if args.speed:
        result["speed"] = speed(args.game, args.speed_steps, args.speed_rounds, args.pool)
    else:
        game_cls = resolve_game(args.game)
        run = args.from_run
        if run is None:
            run = Path(tempfile.mkdtemp(prefix=f"ppo-{args.game}-")) / "run"
            result["training"] = train(args.game, args.seed, run)
        result["run_dir"] = str(run)
        result["run"] = run_figures(run)
        result["matches"] = matches(game_cls, run, args.seed)
        if args.game == "tictactoe":
            result["acceptance"] = {"losses_vs_minimax": result["matches"]["minimax"]["losses"],
                                    "met": result["matches"]["minimax"]["losses"] == 0}
        else:
            m = result["matches"]
            result["acceptance"] = {"vs_random": m["random"]["score"], "vs_mcts50": m["mcts:50"]["score"],
                                    "met": m["random"]["score"] >= 0.95 and m["mcts:50"]["score"] >= 0.5}
        if args.alphazero:
            result["tournament"] = tournament(args.game, run, args.alphazero, args.tournament_games)
    if args.out:
        args.out.write_text(json.dumps(result, indent=1))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
