"""Tournament throughput: games per second with 1 and 2 workers, and batched AlphaZero play within a worker.

1. The same Connect Four match (``mcts:N`` against ``mcts:N``, fresh folders) through ``lab tournament``'s
   code with 1 worker, then with 2 (local backend): whole wall time, scheduler start-up included.
2. AlphaZero against AlphaZero (the same random 32-channel, 3-block network for both; ``--az-sims``
   simulations per move): one worker job playing ``--az-games`` games together, each player's positions
   batched into one network call per simulation round (``act_many``), against the same job playing one
   game at a time (``act``, 8 leaves per network call, as ``lab play`` searches), on the first
   ``--az-single-games`` of the same games. Game lengths vary with the openings, so searched moves per
   second are reported too.

Prints its figures and a final JSON line.

    python benchmarks/tournament_speed.py                  # ~2 minutes on 2 CPU cores
    python benchmarks/tournament_speed.py --games 20 --az-games 32 --az-sims 25
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from lab.runs import save_state  # noqa: E402
from lab.tournament import TournamentOptions, run_tournament  # noqa: E402
from lab.tournament.match import play_job  # noqa: E402
from lab.tournament.schedule import OpeningSource, slots_for  # noqa: E402


def workers_rate(workers: int, games: int, spec: str, seed: int) -> tuple[float, float]:
    """(games per second, seconds) of a ``games``-game match between two ``spec`` players."""
    with tempfile.TemporaryDirectory() as tmp:
        opts = TournamentOptions(game="connect_four", players=[f"a={spec}", f"b={spec}"], games_per_pair=games,
                                 workers=workers, out=str(Path(tmp) / "T"), seed=seed, display=False)
        t0 = time.perf_counter()
        summary = run_tournament(opts)
        seconds = time.perf_counter() - t0
    assert summary.games == games and not summary.failed, summary.failed
    return games / seconds, seconds


def alphazero_run(folder: Path, channels: int, blocks: int, sims: int) -> str:
    """A run folder holding a random AlphaZero network for Connect Four (no training needed to time play)."""
    from agents.alphazero.players import build_net
    from envs.games import ConnectFour

    torch.manual_seed(0)
    net = build_net(ConnectFour, channels, blocks)
    agent = {"game": "connect_four", "net": net.state_dict(), "net_config": {"channels": channels, "blocks": blocks},
             "play_simulations": sims, "c_puct": 1.5, "iteration": 0}
    save_state({"format": "lab-checkpoint/1", "algo": "alphazero", "env": "connect_four", "step": 0, "agent": agent},
               folder / "model.pt")
    return str(folder)


def alphazero_rate(run: str, games: int, batched: bool, seed: int) -> tuple[float, float, float]:
    """(games per second, searched moves per second, seconds) of one worker job playing the first ``games``
    games of the tournament's schedule, AlphaZero against AlphaZero."""
    from envs.games import ConnectFour

    openings = OpeningSource(ConnectFour, plies=4, seed=seed)
    slots = [s for k in range(-(-games // 2)) for s in slots_for(("a", "b"), k)][:games]
    job_slots = [{"id": s.id, "first": s.first, "second": s.second, "opening_index": s.opening_index,
                  "opening": list(openings[s.opening_index])} for s in slots]
    t0 = time.perf_counter()
    records = play_job(game="connect_four", specs={"a": f"alphazero:{run}", "b": f"alphazero:{run}"},
                       slots=job_slots, seed=seed, threads=1, batched=batched)
    seconds = time.perf_counter() - t0
    assert len(records) == games
    moves = sum(r["plies"] - len(r["opening"]) for r in records)
    return games / seconds, moves / seconds, seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--games", type=int, default=40, help="games of the 1- and 2-worker match")
    ap.add_argument("--spec", default="mcts:200", help="player spec of both sides in the worker comparison")
    ap.add_argument("--az-games", type=int, default=64, help="games played together in the batched job")
    ap.add_argument("--az-single-games", type=int, default=8,
                    help="games played one at a time (the first of the batched run's games)")
    ap.add_argument("--az-sims", type=int, default=50, help="AlphaZero simulations per move")
    ap.add_argument("--channels", type=int, default=32)
    ap.add_argument("--blocks", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    torch.set_num_threads(1)

    one, one_s = workers_rate(1, args.games, args.spec, args.seed)
    print(f"{args.games} games {args.spec} vs {args.spec}, 1 worker:  {one:.2f} games/s ({one_s:.1f} s)", flush=True)
    two, two_s = workers_rate(2, args.games, args.spec, args.seed)
    print(f"{args.games} games {args.spec} vs {args.spec}, 2 workers: {two:.2f} games/s ({two_s:.1f} s), "
          f"{two / one:.2f}x", flush=True)

    with tempfile.TemporaryDirectory() as tmp:
        run = alphazero_run(Path(tmp), args.channels, args.blocks, args.az_sims)
        single, single_moves, single_s = alphazero_rate(run, args.az_single_games, False, args.seed)
        print(f"AlphaZero vs AlphaZero, {args.az_sims} sims/move, one game at a time: {single:.3f} games/s, "
              f"{single_moves:.1f} moves/s ({args.az_single_games} games, {single_s:.1f} s)", flush=True)
        batched, batched_moves, batched_s = alphazero_rate(run, args.az_games, True, args.seed)
        print(f"AlphaZero vs AlphaZero, {args.az_games} games batched in one worker: {batched:.3f} games/s, "
              f"{batched_moves:.1f} moves/s ({batched_s:.1f} s): {batched / single:.1f}x the games/s, "
              f"{batched_moves / single_moves:.1f}x the moves/s", flush=True)

    print(json.dumps({
        "benchmark": "tournament_speed", "game": "connect_four", "spec": args.spec, "games": args.games,
        "games_per_s_1_worker": round(one, 3), "games_per_s_2_workers": round(two, 3),
        "workers_speedup": round(two / one, 3),
        "az_sims": args.az_sims, "az_net": f"{args.channels}x{args.blocks}",
        "az_games_per_s_single": round(single, 4), "az_games_per_s_batched": round(batched, 4),
        "az_moves_per_s_single": round(single_moves, 2), "az_moves_per_s_batched": round(batched_moves, 2),
        "az_batched_games": args.az_games, "az_single_games": args.az_single_games,
        "az_batched_speedup": round(batched / single, 2), "az_batched_moves_speedup": round(batched_moves / single_moves, 2),
    }))


if __name__ == "__main__":
    main()
