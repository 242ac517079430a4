"""AlphaZero self-play scaling: games per hour with 2 self-play actors against 1 process, same search settings.

1. Self-play alone: the same network (random weights, seeded) plays Connect Four with ``--games`` games
   in flight per process, as ``--workers 1`` does in this process (one torch thread) and as each of
   ``--workers 2``'s two local actors does (persistent worker processes, one thread each: 2 x ``--games``
   games a round), alternating the order each round. Games per hour and positions per second (game
   lengths vary) for each; ``speedup`` is the ratio of games per hour over all rounds. The actors'
   start-up (once per run) is left out; publishing the weights each round is counted.
2. Whole iterations: two AlphaZero agents (``workers=1`` and ``workers=2``, same seed and config) each run
   ``--iterations`` iterations (self-play, then training on the replay window; the 2-actor iteration has
   twice the games and so twice the training steps), alternated; the ratio of games per second.
3. Weights to the actors: the cost of each way of handing one iteration's weights to an actor, for this
   network: a file written atomically (temp + rename, then ``torch.load``), shared memory (one flat float32
   block), pickled bytes sent with the job, and (``--ray``) the Ray object store.
4. ``--ray``: step 1 again with the 2 actors on a private local Ray instance.

Prints its figures and a final JSON line (``speedup``: self-play games per hour, 2 actors / 1 process).

    python benchmarks/selfplay_scaling.py            # ~3 minutes on 2 quiet CPU cores
    python benchmarks/selfplay_scaling.py --ray      # + ~1 minute (Ray start-up included)
"""

from __future__ import annotations

import argparse
import io
import json
import os
import pickle
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402


def _config(args: argparse.Namespace, workers: int, backend: str = "local"):
    from agents.alphazero import AlphaZeroConfig

    return AlphaZeroConfig(
        games_per_iteration=args.games, simulations=args.sims, channels=args.channels, blocks=args.blocks,
        eval_interval=0, workers=workers, backend=backend, temperature_moves=8, dirichlet_alpha=1.0,
    )


def _agent(args: argparse.Namespace, workers: int, backend: str = "local"):
    from agents.alphazero import AlphaZero
    from lab.envs import resolve_env

    return AlphaZero(_config(args, workers, backend), resolve_env("connect_four"), seed=args.seed, device="cpu")


def selfplay_round(agent, actors, iteration: int) -> tuple[int, int, float]:
    """(games, positions, seconds) of one round of self-play with ``agent``'s network, in this process
    (``actors`` None) or on ``actors``."""
    from agents.alphazero.network import NetEvaluator, search_precision
    from agents.alphazero.selfplay import self_play

    cfg = agent.cfg
    precision = search_precision(cfg.search_precision, "cpu")  # as the agent searches, on both sides
    t0 = time.perf_counter()
    if actors is None:
        evaluator = NetEvaluator(agent.net, agent.game, "cpu", cfg.cache_size, precision=precision)
        records, _ = self_play(agent.game, evaluator, agent.search_params(), games=cfg.games_per_iteration,
                               parallel=cfg.games_per_iteration, temperature_moves=cfg.temperature_moves,
                               rng=np.random.default_rng([agent.seed, iteration]))
    else:
        records, _ = actors.play(agent.net, iteration=iteration, seed=agent.seed, games=cfg.games_per_iteration,
                                 channels=cfg.channels, blocks=cfg.blocks, params=agent.search_params(),
                                 temperature_moves=cfg.temperature_moves, cache_size=cfg.cache_size,
                                 precision=precision)
    seconds = time.perf_counter() - t0
    return len(records), sum(len(r.values) for r in records), seconds


def selfplay_scaling(args: argparse.Namespace, backend: str) -> dict[str, float]:
    from agents.alphazero.actors import SelfPlayActors

    agent = _agent(args, 1)
    t0 = time.perf_counter()
    actors = SelfPlayActors(game="connect_four", workers=2, backend=backend)
    try:
        selfplay_round(agent, actors, 10_000)  # start the actors (and their imports) before timing
        startup = time.perf_counter() - t0
        totals = {1: [0, 0, 0.0], 2: [0, 0, 0.0]}
        for r in range(args.rounds):
            for workers in ((1, 2) if r % 2 == 0 else (2, 1)):
                g, p, s = selfplay_round(agent, actors if workers == 2 else None, r)
                for i, v in enumerate((g, p, s)):
                    totals[workers][i] += v
                print(f"  [{backend}] round {r + 1}: {workers} worker{'s' if workers > 1 else ''}: {g} games, "
                      f"{p} positions in {s:.1f} s ({3600 * g / s:,.0f} games/h, {p / s:,.0f} positions/s)", flush=True)
    finally:
        actors.close()
    one, two = totals[1], totals[2]
    out = {
        "games_per_hour_1": 3600 * one[0] / one[2], "games_per_hour_2": 3600 * two[0] / two[2],
        "positions_per_s_1": one[1] / one[2], "positions_per_s_2": two[1] / two[2],
        "actor_startup_s": startup,
    }
    out["speedup"] = out["games_per_hour_2"] / out["games_per_hour_1"]
    out["positions_speedup"] = out["positions_per_s_2"] / out["positions_per_s_1"]
    return out


def iteration_scaling(args: argparse.Namespace) -> dict[str, float]:
    """Whole iterations (self-play + training) per second, 2 actors against 1 process."""
    from agents.alphazero.actors import SelfPlayActors
    from lab.agent import TrainContext
    from lab.events import EventBus

    agents = {1: _agent(args, 1), 2: _agent(args, 2)}
    agents[2]._actors = SelfPlayActors(game="connect_four", workers=2, backend="local")
    seconds = {1: 0.0, 2: 0.0}
    train = {1: 0.0, 2: 0.0}
    games = {1: 0, 2: 0}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            ctx = TrainContext(bus=EventBus(), run_dir=Path(tmp))
            for workers in (2, 1):  # warm-up iteration (actor start-up), not timed
                agents[workers]._iterate(ctx)
            for r in range(args.iterations):
                for workers in ((1, 2) if r % 2 == 0 else (2, 1)):
                    t0 = time.perf_counter()
                    before = agents[workers].games_played
                    m = agents[workers]._iterate(ctx)
                    seconds[workers] += time.perf_counter() - t0
                    games[workers] += agents[workers].games_played - before
                    train[workers] += m["train/seconds"]
                    print(f"  iteration {r + 2}: {workers} worker{'s' if workers > 1 else ''}: "
                          f"{time.perf_counter() - t0:.1f} s ({m['train/seconds']:.1f} s training)", flush=True)
    finally:
        agents[2]._actors.close()
    return {
        "iteration_s_1": seconds[1] / args.iterations, "iteration_s_2": seconds[2] / args.iterations,
        "train_share_1": train[1] / seconds[1], "train_share_2": train[2] / seconds[2],
        "iteration_games_per_s_1": games[1] / seconds[1], "iteration_games_per_s_2": games[2] / seconds[2],
        "iteration_speedup": (games[2] / seconds[2]) / (games[1] / seconds[1]),
    }


def weights_transfer(args: argparse.Namespace, ray: bool) -> dict[str, float]:
    """Milliseconds to hand one state dict to an actor (publish once + one read), per option."""
    from agents.alphazero.players import build_net
    from envs.games import ConnectFour

    torch.manual_seed(0)
    state = build_net(ConnectFour, args.channels, args.blocks).state_dict()
    reps = 20
    out: dict[str, float] = {"params": float(sum(v.numel() for v in state.values()))}

    def timed(fn) -> float:
        fn()
        t0 = time.perf_counter()
        for _ in range(reps):
            fn()
        return 1000 * (time.perf_counter() - t0) / reps

    folder = Path(tempfile.mkdtemp())

    def via_file() -> None:
        path, tmp = folder / "w.pt", folder / "w.tmp"
        torch.save(state, tmp)
        os.replace(tmp, path)
        torch.load(path, weights_only=True)

    out["file_ms"] = timed(via_file)

    from multiprocessing import shared_memory

    flat = torch.cat([v.reshape(-1).float() for v in state.values()]).numpy()
    shm = shared_memory.SharedMemory(create=True, size=flat.nbytes)

    def via_shm() -> None:
        np.ndarray(flat.shape, np.float32, buffer=shm.buf)[:] = flat
        other = shared_memory.SharedMemory(name=shm.name)
        got = torch.from_numpy(np.ndarray(flat.shape, np.float32, buffer=other.buf).copy())
        i = 0
        for v in state.values():
            got[i:i + v.numel()].reshape(v.shape)
            i += v.numel()
        del got
        other.close()

    out["shared_memory_ms"] = timed(via_shm)
    shm.close()
    shm.unlink()

    def via_pickle() -> None:
        buf = io.BytesIO()
        torch.save(state, buf)
        pickle.loads(pickle.dumps(buf.getvalue()))

    out["pickled_with_job_ms"] = timed(via_pickle)
    if ray:
        import ray as ray_mod

        ray_mod.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
        try:
            out["ray_object_store_ms"] = timed(lambda: ray_mod.get(ray_mod.put(state)))
        finally:
            ray_mod.shutdown()
    for p in folder.glob("*"):
        p.unlink()
    folder.rmdir()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--games", type=int, default=64, help="Self-play games per round (iteration).")
    parser.add_argument("--sims", type=int, default=32, help="Simulations per move.")
    parser.add_argument("--channels", type=int, default=32)
    parser.add_argument("--blocks", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=4, help="Self-play rounds per worker count, alternated.")
    parser.add_argument("--iterations", type=int, default=2, help="Timed whole iterations per worker count.")
    parser.add_argument("--ray", action="store_true", help="Also measure the 2 actors on a private Ray instance.")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)  # the learner's count (AlphaZero.default_threads); each actor sets its own to 1
    t_start = time.perf_counter()
    print(f"self-play, Connect Four, {args.games} games a round, {args.sims} simulations a move, "
          f"{args.channels}x{args.blocks} network, {os.cpu_count()} cores", flush=True)
    result: dict[str, object] = {"benchmark": "selfplay_scaling", "game": "connect_four", "games": args.games,
                                 "simulations": args.sims, "cores": os.cpu_count()}
    local = selfplay_scaling(args, "local")
    print(f"self-play: 1 process {local['games_per_hour_1']:,.0f} games/h, 2 actors {local['games_per_hour_2']:,.0f} "
          f"games/h: {local['speedup']:.2f}x (positions/s {local['positions_speedup']:.2f}x; actors started in "
          f"{local['actor_startup_s']:.1f} s, not counted)", flush=True)
    result.update({k: round(v, 4) for k, v in local.items()})
    whole = iteration_scaling(args)
    print(f"whole iterations: 1 process {whole['iteration_s_1']:.1f} s for {args.games} games, 2 actors "
          f"{whole['iteration_s_2']:.1f} s for {2 * args.games}: {whole['iteration_speedup']:.2f}x the games/s (training {whole['train_share_1']:.0%} / {whole['train_share_2']:.0%} "
          f"of an iteration)", flush=True)
    result.update({k: round(v, 4) for k, v in whole.items()})
    weights = weights_transfer(args, args.ray)
    print("weights to one actor (" + f"{weights['params']:,.0f} parameters): " + ", ".join(
        f"{k.removesuffix('_ms').replace('_', ' ')} {v:.2f} ms" for k, v in weights.items() if k != "params"),
        flush=True)
    result["weights_ms"] = {k: round(v, 3) for k, v in weights.items() if k != "params"}
    if args.ray:
        ray = selfplay_scaling(args, "ray")
        print(f"ray: 1 process {ray['games_per_hour_1']:,.0f} games/h, 2 Ray actors {ray['games_per_hour_2']:,.0f} "
              f"games/h: {ray['speedup']:.2f}x (Ray and its actors started in {ray['actor_startup_s']:.1f} s)",
              flush=True)
        result["ray_speedup"] = round(ray["speedup"], 4)
        result["ray_positions_speedup"] = round(ray["positions_speedup"], 4)
    result["seconds"] = round(time.perf_counter() - t_start, 1)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
